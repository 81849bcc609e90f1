package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amojo-go/amojo/amojotest"
)

// TestMain runs the program itself when the test binary is started as it
// by TestQuickStartAgainstTheFake.
func TestMain(m *testing.M) {
	if os.Getenv("AMOJO_QUICKSTART_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestQuickStartAgainstTheFake runs the quick start as a process, its
// settings in the environment, against a fake amoCRM on loopback, and
// checks what it printed and what reached the fake.
func TestQuickStartAgainstTheFake(t *testing.T) {
	srv := amojotest.NewServer()
	t.Cleanup(srv.Close)
	ch := srv.Channel()

	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		"AMOJO_QUICKSTART_RUN_MAIN=1",
		"AMOJO_CHANNEL_ID="+ch.ID,
		"AMOJO_CHANNEL_SECRET="+ch.Secret,
		"AMOJO_BASE_URL="+srv.URL,
		"AMOCRM_BASE_URL="+srv.CRMURL,
		"AMOCRM_TOKEN="+srv.Token(),
	)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "stderr: %s", stderr.String())

	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.Len(t, lines, 1, "output: %q", out)
	assert.True(t, strings.HasSuffix(lines[0], " Example Client: Hello!"), "output: %q", lines[0])

	scopeID := ch.ID + "_" + srv.Account().AmojoID
	chat, ok := srv.ChatByConversation(scopeID, "chat-42")
	require.True(t, ok, "no chat for conversation chat-42 in scope %s", scopeID)
	require.Len(t, chat.Messages, 1)
	assert.Equal(t, "msg-1", chat.Messages[0].ClientID)
}

// TestQuickStartWithoutSettingsFails: with nothing set, the program stops
// before sending anything, saying what is missing.
func TestQuickStartWithoutSettingsFails(t *testing.T) {
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = []string{"AMOJO_QUICKSTART_RUN_MAIN=1"}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "output: %s", out)
	assert.Equal(t, 1, exit.ExitCode())
	assert.Contains(t, string(out), "amojo:")
}
