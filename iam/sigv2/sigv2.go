// Package sigv2 verifies AWS Signature Version 2 as S3 clients still use
// it: the "Authorization: AWS AccessKeyId:Signature" header (s3cmd with
// signature_v2) and query-string authentication with AWSAccessKeyId,
// Expires and Signature (aws-cli v1 `s3 presign`). The result is a
// sigv4.Result, so the payload is consumed the same way.
package sigv2

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wolke-cloud/wolke/iam/sigv4"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// Is reports whether r carries a Signature Version 2 signature.
func Is(r *http.Request) bool {
	if strings.HasPrefix(r.Header.Get("Authorization"), "AWS ") {
		return true
	}
	q := r.URL.Query()
	return q.Has("AWSAccessKeyId") && q.Has("Signature")
}

// Verifier checks Signature Version 2 requests.
type Verifier struct {
	Creds   sigv4.CredentialStore
	Now     func() time.Time // default time.Now
	MaxSkew time.Duration    // default sigv4.DefaultMaxSkew
}

// subresources are the query parameters that belong to the signed
// resource, as the S3 documentation and clients list them.
func subresources() []string {
	return []string{"accelerate", "acl", "cors", "delete", "lifecycle", "location", "logging", "notification",
		"object-lock", "legal-hold", "retention", "ownershipControls", "partNumber", "policy", "publicAccessBlock",
		"replication", "requestPayment", "response-cache-control", "response-content-disposition",
		"response-content-encoding", "response-content-language", "response-content-type", "response-expires",
		"restore", "select", "select-type", "storageClass", "tagging", "torrent", "uploadId", "uploads",
		"versionId", "versioning", "versions", "website", "encryption", "analytics", "metrics", "inventory"}
}

func fail(kind errs.Kind, code, msg string) error { return sigv4.Fail("sigv2.Verify", kind, code, msg) }

// Verify checks the signature of r. bucket is the bucket named by the Host
// of a virtual-hosted-style request ("" for path style): the signed
// resource always starts with the bucket.
func (v *Verifier) Verify(ctx context.Context, r *http.Request, bucket string) (*sigv4.Result, error) {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	skew := v.MaxSkew
	if skew <= 0 {
		skew = sigv4.DefaultMaxSkew
	}
	q := r.URL.Query()
	res := &sigv4.Result{}
	var accessKey, signature string
	var dates []string // candidates for the date line
	if h := r.Header.Get("Authorization"); h != "" {
		if q.Has("Signature") || q.Has("X-Amz-Signature") {
			return nil, fail(errs.Invalid, sigv4.CodeInvalidArgument, "only one auth mechanism allowed")
		}
		cred, ok := strings.CutPrefix(h, "AWS ")
		i := strings.LastIndexByte(cred, ':')
		if !ok || i <= 0 || i == len(cred)-1 {
			return nil, fail(errs.Invalid, sigv4.CodeAuthorizationHeaderMalformed, "the authorization header must be AWS AccessKeyId:Signature")
		}
		accessKey, signature = cred[:i], cred[i+1:]
		var t time.Time
		var err error
		amz, date := r.Header.Get("X-Amz-Date"), r.Header.Get("Date")
		switch {
		case amz != "":
			t, err = parseDate(amz)
			dates = []string{"", date}
		case date != "":
			t, err = parseDate(date)
			dates = []string{date}
		default:
			return nil, fail(errs.Permission, sigv4.CodeAccessDenied, "a valid Date or x-amz-date header is required")
		}
		if err != nil {
			return nil, fail(errs.Permission, sigv4.CodeAccessDenied, "malformed date")
		}
		if d := now().Sub(t); d > skew || d < -skew {
			return nil, fail(errs.Permission, sigv4.CodeRequestTimeTooSkewed,
				"The difference between the request time and the current time is too large.")
		}
		res.Time = t
	} else {
		accessKey, signature = q.Get("AWSAccessKeyId"), q.Get("Signature")
		exp := q.Get("Expires")
		secs, err := strconv.ParseInt(exp, 10, 64)
		if err != nil || accessKey == "" || signature == "" {
			return nil, fail(errs.Invalid, sigv4.CodeAuthorizationQueryError, "query authentication needs AWSAccessKeyId, Expires and Signature")
		}
		if now().Unix() > secs {
			return nil, fail(errs.Permission, sigv4.CodeAccessDenied, "request has expired")
		}
		dates = []string{exp}
		res.Presigned = true
		res.Time = time.Unix(secs, 0)
	}
	cred, err := v.Creds.Lookup(ctx, accessKey)
	if errs.Is(err, errs.NotFound) {
		return nil, fail(errs.Permission, sigv4.CodeInvalidAccessKeyID, "the access key id does not exist")
	} else if err != nil {
		return nil, errs.E("sigv2.Verify", errs.KindOf(err), err)
	}
	got, err := base64.StdEncoding.DecodeString(signature)
	if err != nil {
		return nil, fail(errs.Permission, sigv4.CodeSignatureDoesNotMatch,
			"the request signature we calculated does not match the signature you provided")
	}
	ok := false
	for _, res := range resources(r, bucket) {
		for _, d := range dates {
			if hmac.Equal(Sign(cred.Secret, StringToSign(r, d, res)), got) {
				ok = true
			}
		}
	}
	if !ok {
		return nil, fail(errs.Permission, sigv4.CodeSignatureDoesNotMatch,
			"the request signature we calculated does not match the signature you provided")
	}
	res.Credential = cred
	res.Signature = signature
	if h := r.Header.Get("X-Amz-Content-Sha256"); len(h) == 64 {
		res.PayloadHash = h // still verified against the body
	}
	return res, nil
}

// parseDate reads an HTTP date in any of the forms clients send.
func parseDate(v string) (time.Time, error) {
	t, err := http.ParseTime(v)
	if err == nil {
		return t, nil
	}
	for _, layout := range []string{time.RFC1123Z, "20060102T150405Z"} {
		if t, err2 := time.Parse(layout, v); err2 == nil {
			return t, nil
		}
	}
	return time.Time{}, err
}

// Sign returns the HMAC-SHA1 of a string to sign.
func Sign(secret, stringToSign string) []byte {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(stringToSign))
	return m.Sum(nil)
}

// StringToSign builds the string a V2 signature covers; date is the Date
// header (empty when x-amz-date is sent) or the Expires of a query
// signature, resource the canonicalized resource.
func StringToSign(r *http.Request, date, resource string) string {
	var b strings.Builder
	b.WriteString(r.Method + "\n")
	b.WriteString(strings.TrimSpace(r.Header.Get("Content-Md5")) + "\n")
	b.WriteString(strings.TrimSpace(r.Header.Get("Content-Type")) + "\n")
	b.WriteString(date + "\n")
	b.WriteString(amzHeaders(r.Header))
	b.WriteString(resource)
	return b.String()
}

func amzHeaders(h http.Header) string {
	var names []string
	for k := range h {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-amz-") {
			names = append(names, lk)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		vals := slices.Clone(h.Values(n))
		for i, v := range vals {
			vals[i] = strings.TrimSpace(v)
		}
		b.WriteString(n + ":" + strings.Join(vals, ",") + "\n")
	}
	return b.String()
}

// resources returns the canonicalized resource of r: the path as sent
// (and, should a client have encoded it otherwise, re-encoded), prefixed
// with the bucket of a virtual-hosted request, plus the subresources.
func resources(r *http.Request, bucket string) []string {
	raw := sigv4.RawPath(r)
	paths := []string{raw}
	if dec, err := url.PathUnescape(raw); err == nil {
		if enc := (&url.URL{Path: dec}).EscapedPath(); enc != raw {
			paths = append(paths, enc)
		}
		if enc := strings.ReplaceAll(url.PathEscape(dec), "%2F", "/"); enc != raw {
			paths = append(paths, enc)
		}
	}
	sub := subresourceString(r.URL.RawQuery)
	var out []string
	for _, p := range paths {
		if bucket != "" {
			p = "/" + bucket + p
		}
		out = append(out, p+sub)
	}
	return out
}

func subresourceString(rawQuery string) string {
	keep := subresources()
	var parts []string
	for _, kv := range strings.Split(rawQuery, "&") {
		if kv == "" {
			continue
		}
		k, v, hasV := strings.Cut(kv, "=")
		if dk, err := url.QueryUnescape(k); err == nil {
			k = dk
		}
		if !slices.Contains(keep, k) {
			continue
		}
		if dv, err := url.QueryUnescape(v); err == nil {
			v = dv
		}
		if hasV && v != "" {
			parts = append(parts, k+"="+v)
		} else {
			parts = append(parts, k)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	sort.Strings(parts)
	return "?" + strings.Join(parts, "&")
}
