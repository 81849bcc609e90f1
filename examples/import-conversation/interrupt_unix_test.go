//go:build unix

package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSecondInterruptQuits runs interruptContext in a child process that
// takes its time to stop after the first Ctrl-C: the second one must end it.
func TestSecondInterruptQuits(t *testing.T) {
	if os.Getenv("IMPORT_CONVERSATION_SIGNAL_CHILD") == "1" {
		ctx, stop := interruptContext(os.Stderr)
		defer stop()
		fmt.Println("ready")
		<-ctx.Done()
		time.Sleep(time.Minute) // a slow stop
		return
	}
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSecondInterruptQuits$")
	cmd.Env = append(os.Environ(), "IMPORT_CONVERSATION_SIGNAL_CHILD=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("child: %q %v", line, err)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stderr).ReadString('\n')
	if err != nil || !strings.Contains(line, "Ctrl-C again to quit at once") {
		t.Fatalf("child after the first Ctrl-C: %q %v", line, err)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("child ended with %v", err)
		}
		if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGINT {
			t.Errorf("child ended with %v, want killed by SIGINT", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the second Ctrl-C did not end the program")
	}
}
