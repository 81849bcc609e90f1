package accountenv

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/amojo-go/amojo"
)

func TestReadAndMissing(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"AMOJO_CHANNEL_ID": "ch", "AMOCRM_TOKEN": "tok", "AMOJO_BOT_ID": "bot"}
	e := Read(func(k string) string { return vars[k] })
	if e.Fake() || e.ChannelID != "ch" || e.Token != "tok" || e.BotID != "bot" {
		t.Fatalf("env = %+v", e)
	}
	if got := e.Missing(); !slices.Equal(got, []string{"AMOJO_CHANNEL_SECRET", "AMOCRM_BASE_URL"}) {
		t.Errorf("missing = %v", got)
	}
	if !Read(func(string) string { return "" }).Fake() {
		t.Error("an empty environment is not the fake")
	}
}

func TestClients(t *testing.T) {
	t.Parallel()
	e := Env{ChannelID: "ch", Secret: "s", CRMURL: "http://127.0.0.1:1", Token: "t", AmojoURL: "http://127.0.0.1:2"}
	chats, crm, err := e.Clients(amojo.WithRetry(amojo.NoRetry()))
	if err != nil {
		t.Fatal(err)
	}
	if chats.BaseURL() != "http://127.0.0.1:2" || crm.BaseURL() != "http://127.0.0.1:1" {
		t.Errorf("bases %s %s", chats.BaseURL(), crm.BaseURL())
	}
	e.CRMURL = "not a url"
	_, _, err = e.Clients()
	var ve *amojo.ValidationError
	if !errors.As(err, &ve) || !strings.HasPrefix(err.Error(), "AMOCRM_*: ") {
		t.Errorf("err = %v", err)
	}
}
