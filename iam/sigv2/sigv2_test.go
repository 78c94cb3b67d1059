package sigv2

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/iam/sigv4"
	"github.com/wolke-cloud/wolke/internal/errs"
)

type creds map[string]string

func (c creds) Lookup(_ context.Context, ak string) (sigv4.Credential, error) {
	s, ok := c[ak]
	if !ok {
		return sigv4.Credential{}, errs.E("test", errs.NotFound)
	}
	return sigv4.Credential{AccessKey: ak, Secret: s, User: "john"}, nil
}

// The examples of the S3 documentation on Signature Version 2.
func TestVerify(t *testing.T) {
	v := &Verifier{
		Creds: creds{"AKIAIOSFODNN7EXAMPLE": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
		Now:   func() time.Time { return time.Date(2007, 3, 27, 19, 40, 0, 0, time.UTC) },
	}
	tests := []struct {
		name   string
		target string
		host   string
		bucket string
		header map[string]string
		code   string
		pre    bool
	}{
		{"header, virtual host", "/photos/puppy.jpg", "johnsmith.s3.amazonaws.com", "johnsmith",
			map[string]string{"Date": "Tue, 27 Mar 2007 19:36:42 +0000", "Authorization": "AWS AKIAIOSFODNN7EXAMPLE:bWq2s1WEIj+Ydj0vQ697zp+IXMU="}, "", false},
		{"header, path style", "/johnsmith/photos/puppy.jpg", "s3.amazonaws.com", "",
			map[string]string{"Date": "Tue, 27 Mar 2007 19:36:42 +0000", "Authorization": "AWS AKIAIOSFODNN7EXAMPLE:bWq2s1WEIj+Ydj0vQ697zp+IXMU="}, "", false},
		{"header, wrong signature", "/johnsmith/photos/kitten.jpg", "s3.amazonaws.com", "",
			map[string]string{"Date": "Tue, 27 Mar 2007 19:36:42 +0000", "Authorization": "AWS AKIAIOSFODNN7EXAMPLE:bWq2s1WEIj+Ydj0vQ697zp+IXMU="}, sigv4.CodeSignatureDoesNotMatch, false},
		{"header, unknown key", "/johnsmith/photos/puppy.jpg", "s3.amazonaws.com", "",
			map[string]string{"Date": "Tue, 27 Mar 2007 19:36:42 +0000", "Authorization": "AWS NOPE:bWq2s1WEIj+Ydj0vQ697zp+IXMU="}, sigv4.CodeInvalidAccessKeyID, false},
		{"header, skewed", "/johnsmith/photos/puppy.jpg", "s3.amazonaws.com", "",
			map[string]string{"Date": "Tue, 27 Mar 2007 18:36:42 +0000", "Authorization": "AWS AKIAIOSFODNN7EXAMPLE:bWq2s1WEIj+Ydj0vQ697zp+IXMU="}, sigv4.CodeRequestTimeTooSkewed, false},
		{"header, malformed", "/johnsmith/photos/puppy.jpg", "s3.amazonaws.com", "",
			map[string]string{"Date": "Tue, 27 Mar 2007 19:36:42 +0000", "Authorization": "AWS AKIAIOSFODNN7EXAMPLE"}, sigv4.CodeAuthorizationHeaderMalformed, false},
		{"query", "/photos/puppy.jpg?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1175139620&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D",
			"johnsmith.s3.amazonaws.com", "johnsmith", nil, "", true},
		{"query, ignored parameter", "/johnsmith/photos/puppy.jpg?foo=bar&AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1175139620&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D",
			"s3.amazonaws.com", "", nil, "", true},
		{"query, signed subresource missing", "/johnsmith/photos/puppy.jpg?acl&AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1175139620&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D",
			"s3.amazonaws.com", "", nil, sigv4.CodeSignatureDoesNotMatch, true},
		{"query, no expiry", "/johnsmith/photos/puppy.jpg?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D",
			"s3.amazonaws.com", "", nil, sigv4.CodeAuthorizationQueryError, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tc.target, nil)
			r.Host = tc.host
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			if !Is(r) {
				t.Fatal("Is = false")
			}
			res, err := v.Verify(context.Background(), r, tc.bucket)
			if got := sigv4.CodeOf(err); got != tc.code {
				t.Fatalf("code %q (%v), want %q", got, err, tc.code)
			}
			if err == nil && (res.Credential.User != "john" || res.Presigned != tc.pre) {
				t.Fatalf("result %+v", res)
			}
		})
	}
	// An expired query signature.
	v.Now = func() time.Time { return time.Unix(1175139621, 0) }
	r := httptest.NewRequest(http.MethodGet, "/johnsmith/photos/puppy.jpg?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1175139620&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D", nil)
	if _, err := v.Verify(context.Background(), r, ""); sigv4.CodeOf(err) != sigv4.CodeAccessDenied {
		t.Fatalf("expired: %v", err)
	}
}

func TestSubresourceString(t *testing.T) {
	tests := []struct{ q, want string }{
		{"", ""},
		{"acl", "?acl"},
		{"uploadId=abc%2Bd&partNumber=3&foo=1", "?partNumber=3&uploadId=abc+d"},
		{"versioning=&prefix=a", "?versioning"},
		{"response-content-type=text%2Fplain", "?response-content-type=text/plain"},
	}
	for _, tc := range tests {
		if got := subresourceString(tc.q); got != tc.want {
			t.Errorf("subresourceString(%q) = %q, want %q", tc.q, got, tc.want)
		}
	}
}
