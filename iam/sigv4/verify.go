package sigv4

import (
	"bytes"
	"context"
	"crypto/hmac"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// Verifier checks SigV4 signatures. The zero values of its optional fields
// pick the AWS defaults.
type Verifier struct {
	Creds   CredentialStore
	Now     func() time.Time           // default time.Now
	MaxSkew time.Duration              // default DefaultMaxSkew
	Rules   func(service string) Rules // default DefaultRules
	// MaxHashedBody bounds the body read into memory to hash it, for
	// services whose clients send no x-amz-content-sha256 (default 8 MiB).
	MaxHashedBody int64
}

// Result is what a verified request proved.
type Result struct {
	Anonymous   bool // no signature at all: the caller decides what that may do
	Presigned   bool
	Credential  Credential
	Scope       Scope
	Time        time.Time
	PayloadHash string // the x-amz-content-sha256 value signed (or UNSIGNED-PAYLOAD)
	Signature   string // the request (seed) signature

	key     []byte
	amzDate string
}

// auth is a parsed signature, before any check.
type auth struct {
	accessKey string
	scope     Scope
	signed    []string
	signature string
	amzDate   string
	t         time.Time
	expires   time.Duration
	presigned bool
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) rules(service string) Rules {
	if v.Rules != nil {
		return v.Rules(service)
	}
	return DefaultRules(service)
}

// Verify checks the signature of r (header or presigned query). It may
// replace r.Body when the payload had to be hashed to verify it. A request
// without any signature yields a Result with Anonymous set.
func (v *Verifier) Verify(ctx context.Context, r *http.Request) (*Result, error) {
	const op = "sigv4.Verify"
	hasHeader := r.Header.Get("Authorization") != ""
	q := r.URL.Query()
	hasQuery := q.Has("X-Amz-Algorithm") || q.Has("X-Amz-Credential") || q.Has("X-Amz-Signature")
	var a auth
	var err error
	switch {
	case hasHeader && hasQuery:
		return nil, Fail(op, errs.Invalid, CodeInvalidArgument, "only one auth mechanism allowed")
	case hasHeader:
		a, err = parseHeaderAuth(r)
	case hasQuery:
		a, err = parseQueryAuth(q)
	case q.Has("AWSAccessKeyId") && q.Has("Signature"):
		return nil, Fail(op, errs.Invalid, CodeInvalidRequest, "signature version 2 is not supported; please use "+Algorithm)
	default:
		return &Result{Anonymous: true}, nil
	}
	if err != nil {
		return nil, err
	}
	if err := v.checkTime(a); err != nil {
		return nil, err
	}
	rules := v.rules(a.scope.Service)
	payload, err := v.payloadHash(r, a, rules)
	if err != nil {
		return nil, err
	}
	cred, err := v.Creds.Lookup(ctx, a.accessKey)
	if errs.Is(err, errs.NotFound) {
		return nil, Fail(op, errs.Permission, CodeInvalidAccessKeyID, "the access key id does not exist")
	} else if err != nil {
		return nil, errs.E(op, errs.KindOf(err), err)
	}
	key := SigningKey(cred.Secret, a.scope)
	ok, err := a.matches(r, rules, payload, key)
	if err == nil && !ok && a.presigned && q.Has("X-Amz-Security-Token") {
		// Some signers add the session token after signing.
		ok, err = a.matches(r, rules, payload, key, "X-Amz-Security-Token")
	}
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, Fail(op, errs.Permission, CodeSignatureDoesNotMatch,
			"the request signature we calculated does not match the signature you provided")
	}
	return &Result{
		Presigned:   a.presigned,
		Credential:  cred,
		Scope:       a.scope,
		Time:        a.t,
		PayloadHash: payload,
		Signature:   a.signature,
		key:         key,
		amzDate:     a.amzDate,
	}, nil
}

// matches recomputes the signature of r, leaving the named query
// parameters out of the canonical query.
func (a auth) matches(r *http.Request, rules Rules, payload string, key []byte, skip ...string) (bool, error) {
	if a.presigned {
		skip = append(skip, "X-Amz-Signature")
	}
	canon, err := canonicalRequest(r, rules, a.signed, payload, skip...)
	if err != nil {
		return false, err
	}
	want := Sign(key, stringToSign(a.amzDate, a.scope, canon))
	return hmac.Equal([]byte(want), []byte(a.signature)), nil
}

func (v *Verifier) checkTime(a auth) error {
	const op = "sigv4.Verify"
	skew := v.MaxSkew
	if skew <= 0 {
		skew = DefaultMaxSkew
	}
	now := v.now()
	if a.presigned {
		if a.t.Sub(now) > skew {
			return Fail(op, errs.Permission, CodeAccessDenied, "request is not valid yet")
		}
		if now.After(a.t.Add(a.expires)) {
			return Fail(op, errs.Permission, CodeAccessDenied, "request has expired")
		}
		return nil
	}
	if d := now.Sub(a.t); d > skew || d < -skew {
		return Fail(op, errs.Permission, CodeRequestTimeTooSkewed,
			"The difference between the request time and the current time is too large.")
	}
	return nil
}

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// payloadHash picks the payload hash the canonical request ends with.
func (v *Verifier) payloadHash(r *http.Request, a auth, rules Rules) (string, error) {
	const op = "sigv4.Verify"
	h := r.Header.Get("X-Amz-Content-Sha256")
	switch {
	case h != "":
	case a.presigned && rules.ContentSHA256Required:
		return UnsignedPayload, nil
	case rules.ContentSHA256Required:
		return "", Fail(op, errs.Invalid, CodeMissingSecurityHeader, "missing required header x-amz-content-sha256")
	default:
		return v.hashBody(r)
	}
	switch h {
	case UnsignedPayload:
		return h, nil
	case StreamingPayload, StreamingPayloadTrailer, StreamingUnsignedTrailer:
		if a.presigned {
			return "", Fail(op, errs.Invalid, CodeInvalidRequest, "streaming payloads need header authentication")
		}
		return h, nil
	}
	if !isHexSHA256(h) {
		return "", Fail(op, errs.Invalid, CodeInvalidArgument, "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, a STREAMING value or a hex SHA-256")
	}
	return h, nil
}

func (v *Verifier) hashBody(r *http.Request) (string, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return EmptySHA256, nil
	}
	limit := v.MaxHashedBody
	if limit <= 0 {
		limit = 8 << 20
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return "", Fail("sigv4.Verify", errs.Invalid, CodeIncompleteBody, "reading the body failed")
	}
	if int64(len(b)) > limit {
		return "", Fail("sigv4.Verify", errs.Invalid, CodeInvalidRequest, "body too large to sign without x-amz-content-sha256")
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return hashHex(string(b)), nil
}

func parseCredential(op, code, v string) (string, Scope, error) {
	parts := strings.Split(v, "/")
	n := len(parts)
	if n < 5 || parts[n-1] != "aws4_request" || parts[0] == "" {
		return "", Scope{}, Fail(op, errs.Invalid, code, "malformed credential "+strconv.Quote(v))
	}
	return strings.Join(parts[:n-4], "/"), Scope{Date: parts[n-4], Region: parts[n-3], Service: parts[n-2]}, nil
}

func parseSignedHeaders(op, code, v string) ([]string, error) {
	names := strings.Split(v, ";")
	hasHost := false
	for i, n := range names {
		n = strings.ToLower(strings.TrimSpace(n))
		if n == "" {
			return nil, Fail(op, errs.Invalid, code, "empty signed header name")
		}
		hasHost = hasHost || n == "host"
		names[i] = n
	}
	if !hasHost {
		return nil, Fail(op, errs.Invalid, code, "the host header must be signed")
	}
	sort.Strings(names)
	return names, nil
}

func parseHeaderAuth(r *http.Request) (auth, error) {
	const op = "sigv4.parseHeader"
	const code = CodeAuthorizationHeaderMalformed
	v := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(v, Algorithm+" ")
	if !ok {
		if strings.HasPrefix(v, "AWS ") {
			return auth{}, Fail(op, errs.Invalid, CodeInvalidRequest, "please use "+Algorithm)
		}
		return auth{}, Fail(op, errs.Invalid, code, "unsupported authorization type")
	}
	var a auth
	var cred, signed string
	for _, part := range strings.Split(rest, ",") {
		k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			cred = val
		case "SignedHeaders":
			signed = val
		case "Signature":
			a.signature = val
		}
	}
	if cred == "" || signed == "" || a.signature == "" {
		return auth{}, Fail(op, errs.Invalid, code, "the authorization header needs Credential, SignedHeaders and Signature")
	}
	var err error
	if a.accessKey, a.scope, err = parseCredential(op, code, cred); err != nil {
		return auth{}, err
	}
	if a.signed, err = parseSignedHeaders(op, code, signed); err != nil {
		return auth{}, err
	}
	if d := r.Header.Get("X-Amz-Date"); d != "" {
		if a.t, err = time.Parse(timeFormat, d); err != nil {
			return auth{}, Fail(op, errs.Permission, CodeAccessDenied, "malformed x-amz-date")
		}
		a.amzDate = d
	} else if d := r.Header.Get("Date"); d != "" {
		if a.t, err = http.ParseTime(d); err != nil {
			return auth{}, Fail(op, errs.Permission, CodeAccessDenied, "malformed date")
		}
		a.amzDate = a.t.UTC().Format(timeFormat)
	} else {
		return auth{}, Fail(op, errs.Permission, CodeAccessDenied, "a valid Date or x-amz-date header is required")
	}
	if a.amzDate[:8] != a.scope.Date {
		return auth{}, Fail(op, errs.Invalid, code, "the credential date does not match the request date")
	}
	return a, nil
}

func parseQueryAuth(q map[string][]string) (auth, error) {
	const op = "sigv4.parseQuery"
	const code = CodeAuthorizationQueryError
	get := func(k string) string {
		if vs := q[k]; len(vs) > 0 {
			return vs[0]
		}
		return ""
	}
	if get("X-Amz-Algorithm") != Algorithm {
		return auth{}, Fail(op, errs.Invalid, code, "X-Amz-Algorithm must be "+Algorithm)
	}
	a := auth{presigned: true, signature: get("X-Amz-Signature"), amzDate: get("X-Amz-Date")}
	cred, signed, exp := get("X-Amz-Credential"), get("X-Amz-SignedHeaders"), get("X-Amz-Expires")
	if cred == "" || signed == "" || a.signature == "" || a.amzDate == "" || exp == "" {
		return auth{}, Fail(op, errs.Invalid, code, "missing presigned query parameters")
	}
	var err error
	if a.accessKey, a.scope, err = parseCredential(op, code, cred); err != nil {
		return auth{}, err
	}
	if a.signed, err = parseSignedHeaders(op, code, signed); err != nil {
		return auth{}, err
	}
	if a.t, err = time.Parse(timeFormat, a.amzDate); err != nil {
		return auth{}, Fail(op, errs.Invalid, code, "malformed X-Amz-Date")
	}
	secs, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || secs < 1 || time.Duration(secs)*time.Second > MaxPresignExpiry {
		return auth{}, Fail(op, errs.Invalid, code, "X-Amz-Expires must be between 1 and 604800 seconds")
	}
	a.expires = time.Duration(secs) * time.Second
	if a.amzDate[:8] != a.scope.Date {
		return auth{}, Fail(op, errs.Invalid, code, "the credential date does not match X-Amz-Date")
	}
	return a, nil
}
