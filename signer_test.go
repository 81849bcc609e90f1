package amojo

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

type signingVector struct {
	Name       string `json:"name"`
	Method     string `json:"method"`
	Path       string `json:"path"`
	Query      string `json:"query"`
	Date       string `json:"date"`
	Body       string `json:"body"`
	ContentMD5 string `json:"content_md5"`
	Signature  string `json:"signature"`
}

type signingFixture struct {
	Secret             string          `json:"secret"`
	ContentType        string          `json:"content_type"`
	QuerySignedWrongly string          `json:"query_signed_wrongly"`
	Vectors            []signingVector `json:"vectors"`
}

// loadVectors reads the known-answer vectors of the amoCRM step-by-step
// documentation (chats-api.md §2.1).
func loadVectors(t testing.TB) signingFixture {
	t.Helper()
	data, err := os.ReadFile("testdata/signing/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var f signingFixture
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) != 7 {
		t.Fatalf("want 7 vectors, got %d", len(f.Vectors))
	}
	return f
}

// referenceSignature is a second, independent implementation built on
// crypto/hmac, used to cross-check Signature.
func referenceSignature(secret, method, md, ct, date, path string) string {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(strings.Join([]string{method, md, ct, date, path}, "\n")))
	return hex.EncodeToString(mac.Sum(nil))
}

func referenceMD5(body []byte) string {
	sum := md5.Sum(body)
	return hex.EncodeToString(sum[:])
}

func TestSignatureKnownAnswers(t *testing.T) {
	t.Parallel()
	f := loadVectors(t)
	for _, v := range f.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			if got := ContentMD5([]byte(v.Body)); got != v.ContentMD5 {
				t.Errorf("ContentMD5 = %s, want %s", got, v.ContentMD5)
			}
			got := Signature(f.Secret, v.Method, v.ContentMD5, f.ContentType, v.Date, v.Path)
			if got != v.Signature {
				t.Errorf("Signature = %s, want %s", got, v.Signature)
			}
		})
	}
}

func TestSignatureQueryIsNotSigned(t *testing.T) {
	t.Parallel()
	f := loadVectors(t)
	v := f.Vectors[len(f.Vectors)-1]
	if v.Query == "" {
		t.Fatal("last vector should be the history GET with a query")
	}
	withQuery := Signature(f.Secret, v.Method, v.ContentMD5, f.ContentType, v.Date, v.Path+"?"+v.Query)
	if withQuery != f.QuerySignedWrongly {
		t.Fatalf("signing path+query gave %s, fixture says %s", withQuery, f.QuerySignedWrongly)
	}

	// SignRequest on a URL with a query must sign the bare path.
	req, err := http.NewRequest(v.Method, "https://amojo.amocrm.ru"+v.Path+"?"+v.Query, nil)
	if err != nil {
		t.Fatal(err)
	}
	SignRequest(req, nil, f.Secret, mustParseDate(t, v.Date))
	if got := req.Header.Get("X-Signature"); got != v.Signature {
		t.Fatalf("X-Signature = %s, want %s", got, v.Signature)
	}
}

func mustParseDate(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC1123Z, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestSignRequestSetsAllFourHeaders(t *testing.T) {
	t.Parallel()
	f := loadVectors(t)
	for _, v := range f.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			var body []byte
			if v.Body != "" {
				body = []byte(v.Body)
			}
			req, err := http.NewRequest(v.Method, "https://amojo.amocrm.ru"+v.Path, nil)
			if err != nil {
				t.Fatal(err)
			}
			// A clock in another zone must still produce a +0000 Date.
			now := mustParseDate(t, v.Date).In(time.FixedZone("MSK", 3*3600))
			SignRequest(req, body, f.Secret, now)
			want := map[string]string{
				"Date":         v.Date,
				"Content-Type": "application/json",
				"Content-Md5":  v.ContentMD5,
				"X-Signature":  v.Signature,
			}
			for k, w := range want {
				if got := req.Header.Values(k); len(got) != 1 || got[0] != w {
					t.Errorf("%s = %q, want [%q]", k, got, w)
				}
			}
		})
	}
}

func TestSignatureMatchesReference(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 300)
	cases := []struct{ name, secret, path string }{
		{"short secret", "s", "/v2/origin/custom/a"},
		{"block-size secret", strings.Repeat("k", 64), "/p"},
		{"secret longer than a block", strings.Repeat("k", 65), "/p"},
		{"very long secret", strings.Repeat("0123456789", 30), "/p"},
		{"path longer than the stack buffer", "f2d7f8704eff95087ed45b23ba99c0b5aac8278e", "/" + long},
		{"empty everything", "k", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := Signature(c.secret, "POST", emptyMD5, ContentTypeJSON, "Thu, 16 Dec 2021 13:15:29 +0000", c.path)
			want := referenceSignature(c.secret, "POST", emptyMD5, ContentTypeJSON, "Thu, 16 Dec 2021 13:15:29 +0000", c.path)
			if got != want {
				t.Fatalf("Signature = %s, reference = %s", got, want)
			}
		})
	}
}

func TestContentMD5(t *testing.T) {
	t.Parallel()
	for _, body := range []string{"", "{}", "{}\n", " {\"a\":1} ", "Привет"} {
		if got, want := ContentMD5([]byte(body)), referenceMD5([]byte(body)); got != want {
			t.Errorf("ContentMD5(%q) = %s, want %s", body, got, want)
		}
	}
	if ContentMD5(nil) != "d41d8cd98f00b204e9800998ecf8427e" {
		t.Error("ContentMD5(nil) is not the MD5 of the empty string")
	}
}

func TestSignatureAllocations(t *testing.T) {
	f := loadVectors(t)
	v := f.Vectors[0]
	allocs := testing.AllocsPerRun(200, func() {
		_ = Signature(f.Secret, v.Method, v.ContentMD5, f.ContentType, v.Date, v.Path)
	})
	if allocs > 2 {
		t.Fatalf("Signature allocates %.0f times per call, want at most 2", allocs)
	}
}

func FuzzSignature(f *testing.F) {
	f.Add("f2d7f8704eff95087ed45b23ba99c0b5aac8278e", "POST", "/v2/origin/custom/x", "Thu, 16 Dec 2021 13:15:29 +0000", []byte(`{"a":1}`))
	f.Add("", "GET", "", "", []byte(nil))
	f.Add(strings.Repeat("k", 100), "DELETE", strings.Repeat("/p", 200), "d", []byte("body"))
	f.Fuzz(func(t *testing.T, secret, method, path, date string, body []byte) {
		md := ContentMD5(body)
		if md != referenceMD5(body) {
			t.Fatalf("ContentMD5 mismatch for %q", body)
		}
		got := Signature(secret, method, md, ContentTypeJSON, date, path)
		if want := referenceSignature(secret, method, md, ContentTypeJSON, date, path); got != want {
			t.Fatalf("Signature = %s, reference = %s", got, want)
		}
	})
}

// BenchmarkSignature and BenchmarkSignatureHMAC compare Signature with the
// plain crypto/hmac + hex.EncodeToString way of computing the same value.
func BenchmarkSignature(b *testing.B) {
	f := loadVectors(b)
	v := f.Vectors[4]
	b.ReportAllocs()
	for b.Loop() {
		_ = Signature(f.Secret, v.Method, v.ContentMD5, f.ContentType, v.Date, v.Path)
	}
}

func BenchmarkSignatureHMAC(b *testing.B) {
	f := loadVectors(b)
	v := f.Vectors[4]
	b.ReportAllocs()
	for b.Loop() {
		mac := hmac.New(sha1.New, []byte(f.Secret))
		mac.Write([]byte(v.Method + "\n" + v.ContentMD5 + "\n" + f.ContentType + "\n" + v.Date + "\n" + v.Path))
		_ = hex.EncodeToString(mac.Sum(nil))
	}
}

func BenchmarkContentMD5(b *testing.B) {
	f := loadVectors(b)
	body := []byte(f.Vectors[4].Body)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		_ = ContentMD5(body)
	}
}
