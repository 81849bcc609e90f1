package amojo

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// The two benchmarks below send the same text message to the same local
// server with the same *http.Client (30 s timeout, as the client's default):
// once through Client.SendMessage, once as a hand-written signed POST with
// net/http and crypto calls only. Their ratio is the client's overhead.

const benchScope = "344a5002-f8ca-454d-af3d-396180102ac7_52e591f7-c98f-4255-8495-827210138c81"

func newBenchServer(b *testing.B) *httptest.Server {
	b.Helper()
	srv := httptest.NewServer(newMessageAnswer())
	b.Cleanup(srv.Close)
	return srv
}

// newMessageAnswer answers every request as amojo answers a new_message.
func newMessageAnswer() http.HandlerFunc {
	resp := []byte(`{"new_message":{"conversation_id":"8e4d4baa-9e6c-4a88-838a-5f62be227bdc","sender_id":"86a0caef-41ec-49ac-814b-b27da2cea267","msgid":"1bf6a765-ec6f-4680-8cd5-6f2d31f78ebc","ref_id":"msg-1"}}`)
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(resp)
	}
}

// benchHTTPClient is the server's client with the timeout every amojo client
// has.
func benchHTTPClient(srv *httptest.Server) *http.Client {
	hc := srv.Client()
	hc.Timeout = DefaultTimeout
	return hc
}

var benchTime = time.Date(2021, 12, 16, 13, 15, 29, 379_000_000, time.UTC)

func BenchmarkSendMessage(b *testing.B) {
	srv := newBenchServer(b)
	hc := benchHTTPClient(srv)
	c, err := NewClient("344a5002-f8ca-454d-af3d-396180102ac7", testSecret, WithBaseURL(srv.URL), WithHTTPClient(hc))
	if err != nil {
		b.Fatal(err)
	}
	from := Participant{ID: "client-1", Name: "Client", Profile: &Profile{Phone: "+79151112233"}}
	msg := IncomingMessage("msg-1", "conv-1", benchTime, from, Text{Text: "Hello from the benchmark"})
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.SendMessage(ctx, benchScope, msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSendMessageBaseline(b *testing.B) {
	srv := newBenchServer(b)
	hc := benchHTTPClient(srv)
	type profile struct {
		Phone string `json:"phone,omitempty"`
	}
	type sender struct {
		ID      string   `json:"id"`
		Name    string   `json:"name"`
		Profile *profile `json:"profile,omitempty"`
	}
	type message struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	type payload struct {
		Timestamp      int64   `json:"timestamp"`
		MsecTimestamp  int64   `json:"msec_timestamp"`
		MsgID          string  `json:"msgid"`
		ConversationID string  `json:"conversation_id"`
		Sender         sender  `json:"sender"`
		Message        message `json:"message"`
		Silent         bool    `json:"silent"`
	}
	type envelope struct {
		EventType string  `json:"event_type"`
		Payload   payload `json:"payload"`
	}
	var out struct {
		NewMessage struct {
			ConversationID string `json:"conversation_id"`
			SenderID       string `json:"sender_id"`
			MsgID          string `json:"msgid"`
			RefID          string `json:"ref_id"`
		} `json:"new_message"`
	}
	path := "/v2/origin/custom/" + benchScope
	url := srv.URL + path
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		body, err := json.Marshal(envelope{EventType: "new_message", Payload: payload{
			Timestamp: benchTime.Unix(), MsecTimestamp: benchTime.UnixMilli(), MsgID: "msg-1", ConversationID: "conv-1",
			Sender:  sender{ID: "client-1", Name: "Client", Profile: &profile{Phone: "+79151112233"}},
			Message: message{Type: "text", Text: "Hello from the benchmark"},
		}})
		if err != nil {
			b.Fatal(err)
		}
		sum := md5.Sum(body)
		md := hex.EncodeToString(sum[:])
		date := time.Now().UTC().Format(time.RFC1123Z)
		mac := hmac.New(sha1.New, []byte(testSecret))
		mac.Write([]byte("POST\n" + md + "\napplication/json\n" + date + "\n" + path))
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Date", date)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Content-MD5", md)
		req.Header.Set("X-Signature", hex.EncodeToString(mac.Sum(nil)))
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			b.Fatal(err, resp.StatusCode)
		}
		if err := json.Unmarshal(data, &out); err != nil {
			b.Fatal(err)
		}
	}
}
