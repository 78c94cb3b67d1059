package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// Rules say how a service canonicalizes the request path. S3 decodes the
// path once, encodes it once and never normalizes it; the other AWS
// services normalize the path and encode the path as sent a second time.
type Rules struct {
	S3Path    bool // decode then encode once, no normalization
	Normalize bool // remove dot segments and empty segments (ignored with S3Path)
	// ContentSHA256Required makes a missing x-amz-content-sha256 header an
	// error for header-signed requests (S3); otherwise the body is hashed.
	ContentSHA256Required bool
}

// DefaultRules returns the rules AWS applies for service.
func DefaultRules(service string) Rules {
	if service == "s3" {
		return Rules{S3Path: true, ContentSHA256Required: true}
	}
	return Rules{Normalize: true}
}

// uriEncode encodes every byte except the unreserved characters
// A-Z a-z 0-9 - . _ ~ (and '/' when keepSlash), with upper-case hex.
func uriEncode(s string, keepSlash bool) string {
	const hexdig = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '/' && keepSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexdig[c>>4])
			b.WriteByte(hexdig[c&15])
		}
	}
	return b.String()
}

// normalizePath removes "." and ".." and empty segments, keeping a
// trailing slash.
func normalizePath(p string) string {
	var stack []string
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		default:
			stack = append(stack, seg)
		}
	}
	out := "/" + strings.Join(stack, "/")
	if len(stack) > 0 && strings.HasSuffix(p, "/") {
		out += "/"
	}
	return out
}

// RawPath returns the path of r as the client sent it.
func RawPath(r *http.Request) string {
	if u := r.RequestURI; strings.HasPrefix(u, "/") {
		if i := strings.IndexByte(u, '?'); i >= 0 {
			u = u[:i]
		}
		return u
	}
	return r.URL.EscapedPath()
}

func canonicalURI(r *http.Request, rules Rules) (string, error) {
	raw := RawPath(r)
	if raw == "" {
		raw = "/"
	}
	if rules.S3Path {
		p, err := url.PathUnescape(raw)
		if err != nil {
			return "", Fail("sigv4.canonicalURI", errs.Invalid, CodeInvalidArgument, "bad escape in path")
		}
		return uriEncode(p, true), nil
	}
	if rules.Normalize {
		raw = normalizePath(raw)
	}
	return uriEncode(raw, true), nil
}

// canonicalQuery sorts and re-encodes the query; skip names parameters to
// leave out (X-Amz-Signature of a presigned request).
func canonicalQuery(rawQuery string, skip ...string) (string, error) {
	type kv struct{ k, v string }
	var pairs []kv
	for _, part := range strings.Split(rawQuery, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		dk, err := url.PathUnescape(k)
		if err != nil {
			return "", Fail("sigv4.canonicalQuery", errs.Invalid, CodeInvalidArgument, "bad escape in query")
		}
		dv, err := url.PathUnescape(v)
		if err != nil {
			return "", Fail("sigv4.canonicalQuery", errs.Invalid, CodeInvalidArgument, "bad escape in query")
		}
		if slices.Contains(skip, dk) {
			continue
		}
		pairs = append(pairs, kv{uriEncode(dk, false), uriEncode(dv, false)})
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String(), nil
}

// trimValue trims a header value and collapses runs of white space.
func trimValue(v string) string {
	return strings.Join(strings.Fields(v), " ")
}

func headerValues(r *http.Request, name string) []string {
	switch name {
	case "host":
		return []string{r.Host}
	case "content-length":
		if vs := r.Header.Values(name); len(vs) > 0 {
			return vs
		}
		if r.ContentLength >= 0 {
			return []string{strconv.FormatInt(r.ContentLength, 10)}
		}
		return nil
	case "transfer-encoding":
		if len(r.TransferEncoding) > 0 {
			return []string{strings.Join(r.TransferEncoding, ",")}
		}
	}
	return r.Header.Values(name)
}

func canonicalHeaders(r *http.Request, signed []string) string {
	var b strings.Builder
	for _, name := range signed {
		vs := headerValues(r, name)
		b.WriteString(name)
		b.WriteByte(':')
		for i, v := range vs {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(trimValue(v))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// canonicalRequest builds the canonical request of r.
func canonicalRequest(r *http.Request, rules Rules, signed []string, payloadHash string, skipQuery ...string) (string, error) {
	uri, err := canonicalURI(r, rules)
	if err != nil {
		return "", err
	}
	q, err := canonicalQuery(r.URL.RawQuery, skipQuery...)
	if err != nil {
		return "", err
	}
	return strings.Join([]string{
		r.Method,
		uri,
		q,
		canonicalHeaders(r, signed),
		strings.Join(signed, ";"),
		payloadHash,
	}, "\n"), nil
}

func hashHex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func stringToSign(amzDate string, scope Scope, canonical string) string {
	return Algorithm + "\n" + amzDate + "\n" + scope.String() + "\n" + hashHex(canonical)
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// SigningKey derives the key that signs requests of one scope.
func SigningKey(secret string, scope Scope) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), scope.Date)
	k = hmacSHA256(k, scope.Region)
	k = hmacSHA256(k, scope.Service)
	return hmacSHA256(k, "aws4_request")
}

// Sign returns the hex signature of a string to sign.
func Sign(key []byte, sts string) string {
	return hex.EncodeToString(hmacSHA256(key, sts))
}
