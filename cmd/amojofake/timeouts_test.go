package main

import (
	"bufio"
	"io"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/amojo-go/amojo/amojotest"
	"github.com/amojo-go/amojo/internal/pipetest"
)

// TestSlowClientsAreCutOff: the program's server cuts off a client that
// sends its headers or its body too slowly at the timeout, not before.
func TestSlowClientsAreCutOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := amojotest.NewUnstartedServer(amojotest.WithControlAPI())
		hs := newHTTPServer(hostGuard(nil, fake), io.Discard)
		ln, stop := pipetest.Serve(hs)
		defer func() {
			stop()
			fake.Close()
		}()
		for _, tt := range []struct {
			name    string
			raw     string
			timeout time.Duration
			status  int // answered when cut; 0: closed without an answer
		}{
			{"slow headers", "GET /api/v4/account HTTP/1.1\r\nHost: 127.0.0.1\r\n", amojotest.ReadHeaderTimeout, 0},
			{"slow body", "POST /amojotest/connect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
				"Content-Length: 100\r\n\r\n{", amojotest.ReadTimeout, http.StatusBadRequest},
		} {
			client, err := ln.Dial(tt.raw)
			if err != nil {
				t.Fatal(err)
			}
			got := make(chan int, 1)
			go func() {
				status := 0
				if resp, err := http.ReadResponse(bufio.NewReader(client), nil); err == nil {
					resp.Body.Close()
					status = resp.StatusCode
				}
				_, _ = io.Copy(io.Discard, client) // until the server closes
				got <- status
			}()
			time.Sleep(tt.timeout - time.Second)
			synctest.Wait()
			select {
			case st := <-got:
				t.Fatalf("%s: cut before the timeout (%d)", tt.name, st)
			default:
			}
			time.Sleep(2 * time.Second)
			synctest.Wait()
			select {
			case st := <-got:
				if st != tt.status {
					t.Errorf("%s: answered %d, want %d", tt.name, st, tt.status)
				}
			default:
				t.Fatalf("%s: not cut off after %v", tt.name, tt.timeout)
			}
			client.Close()
		}
	})
}
