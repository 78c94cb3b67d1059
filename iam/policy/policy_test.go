package policy

import (
	"testing"

	"github.com/wolke-cloud/wolke/internal/errs"
)

func TestParseRejects(t *testing.T) {
	tests := []struct{ name, doc string }{
		{"not json", `{`},
		{"no statement", `{"Version":"2012-10-17"}`},
		{"bad version", `{"Version":"2020-01-01","Statement":[]}`},
		{"bad effect", `{"Statement":{"Effect":"Maybe","Principal":"*","Action":"s3:*","Resource":"*"}}`},
		{"no principal", `{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}`},
		{"bad principal", `{"Statement":{"Effect":"Allow","Principal":"bob","Action":"s3:*","Resource":"*"}}`},
		{"no action", `{"Statement":{"Effect":"Allow","Principal":"*","Resource":"*"}}`},
		{"action without service", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"GetObject","Resource":"*"}}`},
		{"no resource", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*"}}`},
		{"resource not arn", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"bucket"}}`},
		{"bad operator", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"Foo":{"a":"b"}}}}`},
		{"bad cidr", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"1.2.3"}}}}`},
		{"trailing", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}} x`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc), Options{RequirePrincipal: true})
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("Parse = %v, want errs.Invalid", err)
			}
		})
	}
}

const doc = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "public read", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
     "Resource": "arn:aws:s3:::bk/public/*"},
    {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::123456789012:user/alice", "AKBOB"]},
     "Action": ["s3:Get*", "s3:ListBucket", "s3:PutObject"], "Resource": ["arn:aws:s3:::bk", "arn:aws:s3:::bk/*"]},
    {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:PutObject", "Resource": "arn:aws:s3:::bk/*",
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::bk/secret/*",
     "Condition": {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "::1"]}}},
    {"Effect": "Allow", "Principal": "*", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::bk",
     "Condition": {"StringLike": {"s3:prefix": ["public/*", "public/"]}}},
    {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::000000000000:root"]}, "Action": "s3:DeleteObject",
     "Resource": "arn:aws:s3:::bk/tmp/*"}
  ]
}`

func TestEvaluate(t *testing.T) {
	p, err := Parse([]byte(doc), Options{RequirePrincipal: true})
	if err != nil {
		t.Fatal(err)
	}
	https := map[string][]string{"aws:SecureTransport": {"true"}, "aws:SourceIp": {"192.0.2.1"}}
	http := map[string][]string{"aws:SecureTransport": {"false"}, "aws:SourceIp": {"10.1.2.3"}}
	alice := []string{"AKALICE", "alice"}
	tests := []struct {
		name       string
		principals []string
		action     string
		resource   string
		ctx        map[string][]string
		want       Decision
	}{
		{"anonymous public read", nil, "s3:GetObject", "arn:aws:s3:::bk/public/a.txt", https, Allow},
		{"anonymous private read", nil, "s3:GetObject", "arn:aws:s3:::bk/private/a.txt", https, NotApplicable},
		{"anonymous put", nil, "s3:PutObject", "arn:aws:s3:::bk/public/a.txt", https, NotApplicable},
		{"other bucket", nil, "s3:GetObject", "arn:aws:s3:::bk2/public/a.txt", https, NotApplicable},
		{"alice by arn, action wildcard, case", alice, "s3:getobjecttagging", "arn:aws:s3:::bk/x", https, Allow},
		{"alice put over https", alice, "s3:PutObject", "arn:aws:s3:::bk/x", https, Allow},
		{"alice put over http: explicit deny", alice, "s3:PutObject", "arn:aws:s3:::bk/x", http, Deny},
		{"bob by access key", []string{"AKBOB", "bob"}, "s3:ListBucket", "arn:aws:s3:::bk", https, Allow},
		{"carol not listed", []string{"AKCAROL", "carol"}, "s3:DeleteObject", "arn:aws:s3:::bk/x", https, NotApplicable},
		{"secret from outside", alice, "s3:GetObject", "arn:aws:s3:::bk/secret/k", https, Deny},
		{"secret from inside", alice, "s3:GetObject", "arn:aws:s3:::bk/secret/k", http, Allow},
		{"secret without source ip", alice, "s3:GetObject", "arn:aws:s3:::bk/secret/k", nil, Deny},
		{"list public prefix", nil, "s3:ListBucket", "arn:aws:s3:::bk", map[string][]string{"s3:prefix": {"public/"}}, Allow},
		{"list other prefix", nil, "s3:ListBucket", "arn:aws:s3:::bk", map[string][]string{"s3:prefix": {"private/"}}, NotApplicable},
		{"list without prefix", nil, "s3:ListBucket", "arn:aws:s3:::bk", nil, NotApplicable},
		{"account root: any signed caller", []string{"AKDAVE", "dave"}, "s3:DeleteObject", "arn:aws:s3:::bk/tmp/x", https, Allow},
		{"account root: not anonymous", nil, "s3:DeleteObject", "arn:aws:s3:::bk/tmp/x", https, NotApplicable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := p.Evaluate(Request{Principals: tc.principals, Action: tc.action, Resource: tc.resource, Context: tc.ctx})
			if got != tc.want {
				t.Fatalf("Evaluate = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"a*c", "abbbc", true},
		{"a*c", "abbbd", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"arn:aws:s3:::b/*", "arn:aws:s3:::b/x/y", true},
		{"arn:aws:s3:::b/*", "arn:aws:s3:::b", false},
		{"*a*b", "xaxxb", true},
		{"*a*b", "xaxxbc", false},
	}
	for _, tc := range tests {
		if got := Match(tc.pattern, tc.s); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}
