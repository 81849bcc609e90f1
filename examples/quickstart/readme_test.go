package main

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestREADMEShowsThisProgram: the README's quick start is this program,
// from its package clause on, so it compiles, is gofmt-clean and runs
// (TestQuickStartAgainstTheFake).
func TestREADMEShowsThisProgram(t *testing.T) {
	src, err := os.ReadFile("main.go")
	require.NoError(t, err)
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	program := string(src[strings.Index(string(src), "package main\n"):])
	require.Contains(t, string(readme), "```go\n"+program+"```\n",
		"README.md's quick start differs from examples/quickstart/main.go: copy the program from its package clause on")
}
