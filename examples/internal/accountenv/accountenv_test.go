package accountenv

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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

func TestEnvHidesSecretAndToken(t *testing.T) {
	t.Parallel()
	const secret, token = "channel-secret-7d1e0b", "bearer-token-3a9c4f"
	e := Env{ChannelID: "ch", Secret: secret, CRMURL: "https://example.amocrm.ru", Token: token}
	var outs []string
	for _, v := range []any{e, &e, []Env{e}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			outs = append(outs, fmt.Sprintf(verb, v))
		}
		var text, js bytes.Buffer
		slog.New(slog.NewTextHandler(&text, nil)).Info("m", "env", v)
		slog.New(slog.NewJSONHandler(&js, nil)).Info("m", "env", v)
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, text.String(), js.String(), string(b))
	}
	for _, out := range outs {
		for _, s := range []string{secret, token, hex.EncodeToString([]byte(secret))} {
			if strings.Contains(out, s) {
				t.Errorf("output shows a secret: %s", out)
			}
		}
	}
	if got := fmt.Sprint(e); !strings.Contains(got, "Secret: (set)") || !strings.Contains(got, "ChannelID: ch") {
		t.Errorf("String() = %s", got)
	}
}
