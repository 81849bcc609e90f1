package amojo

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
)

const (
	// The derived vector of chats-api.md §4.2.
	docWebhookSecret = "5a44c5dff55f3c15a4cce8d7c4cc27e207c7e189"
	docWebhookBody   = `{"account_id":"52e591f7-c98f-4255-8495-827210138c81","time":1639572261}`
	docWebhookSig    = "f967b1bf766fb788dc3815eb656fc284d5ef4ef3"
)

// Known answers. Besides the documented one, each was computed independently
// of this package with `openssl dgst -sha1 -hmac SECRET` over the exact bytes.
var webhookVectors = []struct {
	name   string
	secret string
	body   string
	sig    string
}{
	{"chats-api §4.2", docWebhookSecret, docWebhookBody, docWebhookSig},
	{"RFC 2202 case 2", "Jefe", "what do ya want for nothing?", "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
	{"empty body", docWebhookSecret, "", "fb3907f4b77ac22fce14ce58742e9dd12c2faebc"},
	{"body signed with its CRLF", docWebhookSecret, docWebhookBody + "\r\n", "b306b38e60066d5f63400129fcde7f41cb7c4f3d"},
	{"typing fixture file", "f2d7f8704eff95087ed45b23ba99c0b5aac8278e", "@testdata/webhooks/typing.json", "93ced0691253db6ecd32ea3de331d198ecbfafa1"},
}

func vectorBody(t *testing.T, body string) []byte {
	t.Helper()
	if name, ok := strings.CutPrefix(body, "@"); ok {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return []byte(body)
}

func TestSignWebhookVectors(t *testing.T) {
	t.Parallel()
	for _, v := range webhookVectors {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			body := vectorBody(t, v.body)
			if got := SignWebhook(v.secret, body); got != v.sig {
				t.Errorf("SignWebhook = %s, want %s", got, v.sig)
			}
			if err := VerifyWebhook(v.secret, body, v.sig); err != nil {
				t.Errorf("VerifyWebhook: %v", err)
			}
			if err := VerifyWebhook(v.secret, body, strings.ToUpper(v.sig)); err != nil {
				t.Errorf("VerifyWebhook(uppercase signature): %v", err)
			}
		})
	}
}

func TestVerifyWebhookRejects(t *testing.T) {
	t.Parallel()
	body := []byte(docWebhookBody)
	tampered := bytes.Replace(body, []byte("1639572261"), []byte("1639572262"), 1)
	cases := []struct {
		name   string
		secret string
		body   []byte
		sig    string
	}{
		{"tampered body", docWebhookSecret, tampered, docWebhookSig},
		{"truncated body", docWebhookSecret, body[:len(body)-1], docWebhookSig},
		{"empty body", docWebhookSecret, nil, docWebhookSig},
		{"extra byte", docWebhookSecret, append(bytes.Clone(body), ' '), docWebhookSig},
		{"leading newline", docWebhookSecret, append([]byte("\n"), body...), docWebhookSig},
		{"wrong secret", "f2d7f8704eff95087ed45b23ba99c0b5aac8278e", body, docWebhookSig},
		{"secret with a different case", strings.ToUpper(docWebhookSecret), body, docWebhookSig},
		{"empty signature", docWebhookSecret, body, ""},
		{"blank signature", docWebhookSecret, body, "   "},
		{"short signature", docWebhookSecret, body, docWebhookSig[:39]},
		{"long signature", docWebhookSecret, body, docWebhookSig + "0"},
		{"non-hex signature", docWebhookSecret, body, "z" + docWebhookSig[1:]},
		{"one digit changed", docWebhookSecret, body, "0" + docWebhookSig[1:]},
		{"signature of another body", docWebhookSecret, body, SignWebhook(docWebhookSecret, tampered)},
		{"sha1= prefix", docWebhookSecret, body, "sha1=" + docWebhookSig},
		{"body as signature", docWebhookSecret, body, docWebhookBody},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := VerifyWebhook(c.secret, c.body, c.sig)
			if !errors.Is(err, ErrInvalidSignature) {
				t.Fatalf("VerifyWebhook = %v, want ErrInvalidSignature", err)
			}
			if !strings.HasPrefix(err.Error(), "amojo: ") {
				t.Errorf("error %q does not start with amojo:", err)
			}
			for _, secret := range []string{c.secret, docWebhookSecret} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q contains the secret", err)
				}
			}
			if c.sig != "" && strings.TrimSpace(c.sig) != "" && strings.Contains(err.Error(), c.sig) {
				t.Errorf("error %q contains the signature", err)
			}
		})
	}
}

func TestVerifyWebhookTrailingNewline(t *testing.T) {
	t.Parallel()
	// Some senders sign the body without its final newline: the raw body
	// fails, the body without that one line break matches.
	for _, suffix := range []string{"\n", "\r\n"} {
		body := []byte(docWebhookBody + suffix)
		if err := VerifyWebhook(docWebhookSecret, body, docWebhookSig); err != nil {
			t.Errorf("body + %q: %v", suffix, err)
		}
	}
	// Only one line break may be left out of the signature: more, or
	// other white space, would let one signature pass for many bodies.
	for _, suffix := range []string{"\n\n", "\r\n\r\n", "\n\r\n", "\r", " ", " \n", "\n "} {
		body := []byte(docWebhookBody + suffix)
		if err := VerifyWebhook(docWebhookSecret, body, docWebhookSig); !errors.Is(err, ErrInvalidSignature) {
			t.Errorf("body + %q: %v, want ErrInvalidSignature", suffix, err)
		}
	}
	// The raw body is always tried first.
	body := []byte(docWebhookBody + "\r\n")
	if err := VerifyWebhook(docWebhookSecret, body, SignWebhook(docWebhookSecret, body)); err != nil {
		t.Errorf("raw body with CRLF: %v", err)
	}
	// A signature over the body with a newline does not pass for the body
	// without it.
	if err := VerifyWebhook(docWebhookSecret, []byte(docWebhookBody), SignWebhook(docWebhookSecret, body)); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("signature of body+CRLF for the bare body: %v", err)
	}
}

// TestVerifyWebhookBodyReturnsSignedBytes: VerifyWebhookBody returns exactly
// the bytes the signature covers.
func TestVerifyWebhookBodyReturnsSignedBytes(t *testing.T) {
	t.Parallel()
	x := []byte(docWebhookBody)
	with := func(suffix string) []byte { return append(bytes.Clone(x), suffix...) }
	cases := []struct {
		name     string
		body     []byte
		signedAs []byte
		want     []byte // nil: refused
	}{
		{"raw", x, x, x},
		{"newline left out of the signature", with("\n"), x, x},
		{"CRLF left out of the signature", with("\r\n"), x, x},
		{"newline signed", with("\n"), with("\n"), with("\n")},
		{"one of two newlines left out", with("\n\n"), with("\n"), with("\n")},
		{"two newlines left out", with("\n\n"), x, nil},
		{"two CRLFs left out", with("\r\n\r\n"), x, nil},
		{"CR left out", with("\r"), x, nil},
		{"newline after a signed CR", with("\r\n"), with("\r"), with("\r")},
		{"space left out", with(" "), x, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			signed, err := VerifyWebhookBody([]string{docWebhookSecret}, c.body, SignWebhook(docWebhookSecret, c.signedAs))
			if c.want == nil {
				if !errors.Is(err, ErrInvalidSignature) || signed != nil {
					t.Fatalf("VerifyWebhookBody = %q, %v; want ErrInvalidSignature", signed, err)
				}
				return
			}
			if err != nil || !bytes.Equal(signed, c.want) {
				t.Fatalf("VerifyWebhookBody = %q, %v; want %q", signed, err, c.want)
			}
			if SignWebhook(docWebhookSecret, signed) != SignWebhook(docWebhookSecret, c.signedAs) {
				t.Error("the bytes returned are not the bytes signed")
			}
		})
	}
}

func TestVerifyWebhookConfigErrors(t *testing.T) {
	t.Parallel()
	body := []byte(docWebhookBody)
	cases := []struct {
		name    string
		secrets []string
		field   string
	}{
		{"empty secret", []string{""}, "secret"},
		{"no secrets", nil, "secrets"},
		{"an empty secret among others", []string{docWebhookSecret, ""}, "secrets[1]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			// Even a signature computed with the empty key must not pass.
			err := VerifyWebhookAny(c.secrets, body, SignWebhook("", body))
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != c.field {
				t.Fatalf("VerifyWebhookAny = %v, want *ValidationError on %s", err, c.field)
			}
			if errors.Is(err, ErrInvalidSignature) {
				t.Errorf("a configuration error must not look like a bad signature: %v", err)
			}
		})
	}
	if err := VerifyWebhook("", body, SignWebhook("", body)); err == nil {
		t.Error("VerifyWebhook with an empty secret passed")
	}
	// An empty secret is reported before an empty signature.
	var ve *ValidationError
	if err := VerifyWebhook("", body, ""); !errors.As(err, &ve) {
		t.Errorf("VerifyWebhook(empty, empty) = %v, want *ValidationError", err)
	}
}

func TestVerifyWebhookAnyRotation(t *testing.T) {
	t.Parallel()
	body := []byte(docWebhookBody)
	oldSecret, newSecret := docWebhookSecret, "f2d7f8704eff95087ed45b23ba99c0b5aac8278e"
	for _, secret := range []string{oldSecret, newSecret} {
		if err := VerifyWebhookAny([]string{newSecret, oldSecret}, body, SignWebhook(secret, body)); err != nil {
			t.Errorf("signed with one of the secrets: %v", err)
		}
	}
	if err := VerifyWebhookAny([]string{newSecret, oldSecret}, body, SignWebhook("another", body)); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("signed with another secret: %v", err)
	}
}

func FuzzVerifyWebhook(f *testing.F) {
	f.Add(docWebhookSecret, []byte(docWebhookBody), uint(0))
	f.Add("Jefe", []byte("what do ya want for nothing?"), uint(7))
	f.Add("k", []byte(""), uint(3))
	f.Add("k", []byte("{}\r\n"), uint(9))
	f.Add("0", []byte("\r"), uint(0))
	f.Fuzz(func(t *testing.T, secret string, body []byte, bit uint) {
		sig := SignWebhook(secret, body)
		err := VerifyWebhook(secret, body, sig)
		if secret == "" {
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("empty secret: %v, want *ValidationError", err)
			}
			return
		}
		if err != nil {
			t.Fatalf("own signature rejected: %v", err)
		}
		// The signed bytes are the body; with a line break added after
		// them, still only the body.
		for _, extra := range []string{"", "\n", "\r\n"} {
			signed, err := VerifyWebhookBody([]string{secret}, append(bytes.Clone(body), extra...), sig)
			if err != nil || !bytes.Equal(signed, body) {
				t.Fatalf("body + %q: signed %q, %v; want the body", extra, signed, err)
			}
		}
		// A flipped bit in the body never verifies.
		if len(body) > 0 {
			tampered := bytes.Clone(body)
			tampered[(bit/8)%uint(len(tampered))] ^= 1 << (bit % 8)
			if err := VerifyWebhook(secret, tampered, sig); !errors.Is(err, ErrInvalidSignature) {
				t.Fatalf("tampered body: %v", err)
			}
		}
		// Nor does a flipped bit in the signature.
		raw := []byte(sig)
		i := int(bit % uint(len(raw)))
		flipped := bytes.Clone(raw)
		flipped[i] = "0123456789abcdef"[(strings.IndexByte("0123456789abcdef", raw[i])^1)&15]
		if err := VerifyWebhook(secret, body, string(flipped)); !errors.Is(err, ErrInvalidSignature) {
			t.Fatalf("flipped signature: %v", err)
		}
		// Nor does a truncated body: the signature covers every byte.
		if len(body) > 0 {
			if err := VerifyWebhook(secret, body[:len(body)-1], sig); !errors.Is(err, ErrInvalidSignature) {
				t.Fatalf("truncated body: %v", err)
			}
		}
	})
}

func BenchmarkVerifyWebhook(b *testing.B) {
	body := []byte(docWebhookBody)
	b.ReportAllocs()
	for b.Loop() {
		if err := VerifyWebhook(docWebhookSecret, body, docWebhookSig); err != nil {
			b.Fatal(err)
		}
	}
}
