package gateway

import (
	"net/http/httptest"
	"testing"
)

func TestScopeService(t *testing.T) {
	cases := []struct {
		name, auth, query, want string
	}{
		{"header ec2", "AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=ab", "", "ec2"},
		{"header s3", "AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/s3/aws4_request,SignedHeaders=host,Signature=ab", "", "s3"},
		{"presigned", "", "X-Amz-Credential=AK%2F20260101%2Fus-east-1%2Fsqs%2Faws4_request&X-Amz-Signature=ab", "sqs"},
		{"sigv2", "AWS AK:sig", "", ""},
		{"short scope", "AWS4-HMAC-SHA256 Credential=AK/20260101/ec2, Signature=ab", "", ""},
		{"anonymous", "", "", ""},
	}
	for _, c := range cases {
		r := httptest.NewRequest("POST", "/?"+c.query, nil)
		if c.auth != "" {
			r.Header.Set("Authorization", c.auth)
		}
		if got := scopeService(r); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
