package sigv4

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// vectorDir holds the AWS SigV4 test suite (see its README and LICENSE).
const vectorDir = "testdata/sigv4"

type vectorContext struct {
	Credentials struct {
		AccessKeyID     string `json:"access_key_id"`
		SecretAccessKey string `json:"secret_access_key"`
	} `json:"credentials"`
	Normalize bool      `json:"normalize"`
	Region    string    `json:"region"`
	Service   string    `json:"service"`
	Timestamp time.Time `json:"timestamp"`
}

// mapStore is a CredentialStore for tests.
type mapStore map[string]string

func (m mapStore) Lookup(ctx context.Context, ak string) (Credential, error) {
	s, ok := m[ak]
	if !ok {
		return Credential{}, errs.E("test.Lookup", errs.NotFound)
	}
	return Credential{AccessKey: ak, Secret: s, User: "u-" + ak}, nil
}

// parseRawRequest reads a request file of the suite. Request lines may hold
// raw spaces and UTF-8, which net/http would refuse, so it parses by hand.
func parseRawRequest(t *testing.T, path string) *http.Request {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	head, body, _ := strings.Cut(string(b), "\n\n")
	lines := strings.Split(head, "\n")
	method, rest, _ := strings.Cut(lines[0], " ")
	uri := rest[:strings.LastIndex(rest, " ")]
	h := http.Header{}
	last := ""
	for _, l := range lines[1:] {
		if l == "" {
			continue
		}
		if l[0] == ' ' || l[0] == '\t' {
			vs := h[last]
			vs[len(vs)-1] += "\n" + l
			continue
		}
		name, val, _ := strings.Cut(l, ":")
		last = http.CanonicalHeaderKey(name)
		h[last] = append(h[last], val)
	}
	host := h.Get("Host")
	h.Del("Host")
	p, q, _ := strings.Cut(uri, "?")
	return &http.Request{
		Method:        method,
		RequestURI:    uri,
		URL:           &url.URL{Path: p, RawQuery: q},
		Host:          host,
		Header:        h,
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestVectors(t *testing.T) {
	dirs, err := os.ReadDir(vectorDir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		n++
		dir := filepath.Join(vectorDir, d.Name())
		t.Run(d.Name(), func(t *testing.T) {
			var vc vectorContext
			if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dir, "context.json"))), &vc); err != nil {
				t.Fatal(err)
			}
			v := &Verifier{
				Creds: mapStore{vc.Credentials.AccessKeyID: vc.Credentials.SecretAccessKey},
				Now:   func() time.Time { return vc.Timestamp },
				Rules: func(string) Rules { return Rules{Normalize: vc.Normalize} },
			}
			for _, mode := range []string{"header", "query"} {
				checkVector(t, v, dir, mode)
			}
		})
	}
	if n < 30 {
		t.Fatalf("only %d vectors found", n)
	}
}

func checkVector(t *testing.T, v *Verifier, dir, mode string) {
	ctx := context.Background()
	r := parseRawRequest(t, filepath.Join(dir, mode+"-signed-request.txt"))
	var a auth
	var err error
	if mode == "header" {
		a, err = parseHeaderAuth(r)
	} else {
		a, err = parseQueryAuth(r.URL.Query())
	}
	if err != nil {
		t.Fatalf("%s: parse: %v", mode, err)
	}
	rules := v.Rules(a.scope.Service)
	payload, err := v.payloadHash(r, a, rules)
	if err != nil {
		t.Fatalf("%s: payload: %v", mode, err)
	}
	var skip []string
	if a.presigned {
		skip = append(skip, "X-Amz-Signature")
		if strings.HasSuffix(dir, "post-sts-header-after") {
			skip = append(skip, "X-Amz-Security-Token")
		}
	}
	canon, err := canonicalRequest(r, rules, a.signed, payload, skip...)
	if err != nil {
		t.Fatal(err)
	}
	if want := readFile(t, filepath.Join(dir, mode+"-canonical-request.txt")); canon != want {
		t.Errorf("%s canonical request:\n%s\nwant:\n%s", mode, canon, want)
	}
	if got, want := stringToSign(a.amzDate, a.scope, canon), readFile(t, filepath.Join(dir, mode+"-string-to-sign.txt")); got != want {
		t.Errorf("%s string to sign:\n%s\nwant:\n%s", mode, got, want)
	}

	r = parseRawRequest(t, filepath.Join(dir, mode+"-signed-request.txt"))
	res, err := v.Verify(ctx, r)
	if err != nil {
		t.Fatalf("%s: Verify: %v", mode, err)
	}
	if want := strings.TrimSpace(readFile(t, filepath.Join(dir, mode+"-signature.txt"))); res.Signature != want {
		t.Errorf("%s: signature %s, want %s", mode, res.Signature, want)
	}

	// The same request with one header changed must fail.
	r = parseRawRequest(t, filepath.Join(dir, mode+"-signed-request.txt"))
	r.Host = "other.example.com"
	if _, err := v.Verify(ctx, r); CodeOf(err) != CodeSignatureDoesNotMatch || !errs.Is(err, errs.Permission) {
		t.Errorf("%s: tampered host: %v", mode, err)
	}
}

func TestVerifyErrors(t *testing.T) {
	dir := filepath.Join(vectorDir, "get-vanilla")
	ts := time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)
	cases := []struct {
		name   string
		mode   string
		now    time.Time
		store  mapStore
		mutate func(r *http.Request)
		code   string
	}{
		{"ok header", "header", ts.Add(14 * time.Minute), nil, nil, ""},
		{"skew ahead", "header", ts.Add(16 * time.Minute), nil, nil, CodeRequestTimeTooSkewed},
		{"skew behind", "header", ts.Add(-16 * time.Minute), nil, nil, CodeRequestTimeTooSkewed},
		{"unknown key", "header", ts, mapStore{}, nil, CodeInvalidAccessKeyID},
		{"bad signature", "header", ts, nil, func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "Signature=5", "Signature=6", 1))
		}, CodeSignatureDoesNotMatch},
		{"no signature", "header", ts, nil, func(r *http.Request) {
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date")
		}, CodeAuthorizationHeaderMalformed},
		{"host unsigned", "header", ts, nil, func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "host;", "", 1))
		}, CodeAuthorizationHeaderMalformed},
		{"sigv2", "header", ts, nil, func(r *http.Request) { r.Header.Set("Authorization", "AWS AKIDEXAMPLE:abc") }, CodeInvalidRequest},
		{"no date", "header", ts, nil, func(r *http.Request) { r.Header.Del("X-Amz-Date") }, CodeAccessDenied},
		{"scope date", "header", ts, nil, func(r *http.Request) { r.Header.Set("X-Amz-Date", "20150831T123600Z") }, CodeAuthorizationHeaderMalformed},
		{"both mechanisms", "header", ts, nil, func(r *http.Request) { r.URL.RawQuery = "X-Amz-Algorithm=AWS4-HMAC-SHA256" }, CodeInvalidArgument},
		{"ok query", "query", ts.Add(59 * time.Minute), nil, nil, ""},
		{"expired", "query", ts.Add(61 * time.Minute), nil, nil, CodeAccessDenied},
		{"not yet valid", "query", ts.Add(-16 * time.Minute), nil, nil, CodeAccessDenied},
		{"expires too long", "query", ts, nil, func(r *http.Request) {
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "X-Amz-Expires=3600", "X-Amz-Expires=604801", 1)
		}, CodeAuthorizationQueryError},
		{"query tampered", "query", ts, nil, func(r *http.Request) { r.URL.RawQuery += "&x=1" }, CodeSignatureDoesNotMatch},
	}
	for _, c := range cases {
		store := c.store
		if store == nil {
			store = mapStore{"AKIDEXAMPLE": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
		}
		v := &Verifier{Creds: store, Now: func() time.Time { return c.now }, Rules: func(string) Rules { return Rules{Normalize: true} }}
		r := parseRawRequest(t, filepath.Join(dir, c.mode+"-signed-request.txt"))
		r.RequestURI = ""
		if c.mutate != nil {
			c.mutate(r)
		}
		_, err := v.Verify(context.Background(), r)
		if got := CodeOf(err); got != c.code {
			t.Errorf("%s: code %q (%v), want %q", c.name, got, err, c.code)
		}
	}
}

func TestAnonymousAndV2(t *testing.T) {
	r, _ := http.NewRequest("GET", "http://h/b/k", nil)
	res, err := (&Verifier{Creds: mapStore{}}).Verify(context.Background(), r)
	if err != nil || !res.Anonymous {
		t.Fatalf("anonymous: %+v %v", res, err)
	}
	r, _ = http.NewRequest("GET", "http://h/b/k?AWSAccessKeyId=AK&Signature=x%3D&Expires=1", nil)
	if _, err := (&Verifier{Creds: mapStore{}}).Verify(context.Background(), r); CodeOf(err) != CodeInvalidRequest {
		t.Fatalf("presigned v2: %v", err)
	}
}

func TestURIEncodeAndNormalize(t *testing.T) {
	enc := []struct{ in, slash, noslash string }{
		{"a b/c", "a%20b/c", "a%20b%2Fc"},
		{"-._~AZaz09", "-._~AZaz09", "-._~AZaz09"},
		{"%2B+=&ሴ", "%252B%2B%3D%26%E1%88%B4", "%252B%2B%3D%26%E1%88%B4"},
	}
	for _, c := range enc {
		if got := uriEncode(c.in, true); got != c.slash {
			t.Errorf("uriEncode(%q, true) = %q, want %q", c.in, got, c.slash)
		}
		if got := uriEncode(c.in, false); got != c.noslash {
			t.Errorf("uriEncode(%q, false) = %q, want %q", c.in, got, c.noslash)
		}
	}
	norm := []struct{ in, want string }{
		{"/", "/"}, {"//a//", "/a/"}, {"/a/../..", "/"}, {"/./a", "/a"}, {"/a/./b/", "/a/b/"}, {"/a/b/..", "/a"},
	}
	for _, c := range norm {
		if got := normalizePath(c.in); got != c.want {
			t.Errorf("normalizePath(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	// S3 keeps the path as is: a//b and ../x and an encoded '+' survive.
	for raw, want := range map[string]string{
		"/b/a//b":      "/b/a//b",
		"/b/../x":      "/b/../x",
		"/b/%2B":       "/b/%2B",
		"/b/%252B":     "/b/%252B",
		"/b/a%20b":     "/b/a%20b",
		"/b/a+b":       "/b/a%2Bb",
		"/b/%E1%88%B4": "/b/%E1%88%B4",
	} {
		r := &http.Request{RequestURI: raw, URL: &url.URL{}}
		got, err := canonicalURI(r, DefaultRules("s3"))
		if err != nil || got != want {
			t.Errorf("s3 canonicalURI(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
}
