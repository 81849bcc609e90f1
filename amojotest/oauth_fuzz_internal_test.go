package amojotest

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"
)

// FuzzOAuthToken serves any body to the token endpoint: the answer is a
// pair or an OAuth problem, and nothing panics or hangs.
func FuzzOAuthToken(f *testing.F) {
	f.Add("application/json", []byte(`{"client_id":"`+DefaultClientID+`","client_secret":"`+DefaultClientSecret+`","grant_type":"refresh_token","refresh_token":"x","redirect_uri":"`+DefaultRedirectURI+`"}`))
	f.Add("application/x-www-form-urlencoded", []byte("client_id="+DefaultClientID+"&grant_type=authorization_code&code=%zz"))
	f.Add("application/json", []byte(`{"client_id":1}`))
	s := NewUnstartedServer(WithClock(func() time.Time { return fuzzTime }))
	f.Cleanup(s.Close)
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		req := httptest.NewRequest("POST", "/oauth2/access_token", bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatalf("%d answer %q is not JSON", rec.Code, rec.Body)
		}
		switch rec.Code {
		case 200:
			if m["access_token"] == nil || m["refresh_token"] == nil {
				t.Fatalf("200 without a pair: %s", rec.Body)
			}
		case 400, 401, 404:
			if m["type"] != OAuthProblemType {
				t.Fatalf("%d without the problem type: %s", rec.Code, rec.Body)
			}
		default:
			t.Fatalf("status %d", rec.Code)
		}
	})
}
