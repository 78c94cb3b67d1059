package gateway_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func hmacSHA256(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// signV4Policy signs a base64 policy as a browser form's issuer does.
func signV4Policy(secret, date, policy string) string {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, "us-east-1")
	k = hmacSHA256(k, "s3")
	k = hmacSHA256(k, "aws4_request")
	return hex.EncodeToString(hmacSHA256(k, policy))
}

type formField struct{ name, value string }

// postForm sends a multipart form, fields in order, then the file.
func (e *env) postForm(t *testing.T, bucket string, fields []formField, file []byte) (int, []byte, http.Header) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, f := range fields {
		mw.WriteField(f.name, f.value)
	}
	fw, _ := mw.CreateFormFile("file", "photo.jpg")
	fw.Write(file)
	mw.Close()
	req, _ := http.NewRequest("POST", e.url+"/"+bucket, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

func TestPostPolicy(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx, c := context.Background(), e.s3(t)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("forms")}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	date, amzDate := now.Format("20060102"), now.Format("20060102T150405Z")
	cred := accessKey + "/" + date + "/us-east-1/s3/aws4_request"
	policy := func(exp time.Time, conds string) string {
		return base64.StdEncoding.EncodeToString([]byte(`{"expiration":"` + exp.Format(time.RFC3339) + `","conditions":[` + conds + `]}`))
	}
	conds := `{"bucket":"forms"},["starts-with","$key","uploads/"],{"success_action_status":"201"},
	  ["starts-with","$Content-Type","image/"],["content-length-range",1,100],
	  {"x-amz-algorithm":"AWS4-HMAC-SHA256"},{"x-amz-credential":"` + cred + `"},{"x-amz-date":"` + amzDate + `"},["starts-with","$x-amz-meta-tag",""]`
	good := policy(now.Add(time.Hour), conds)
	v4 := func(pol, sig, key, ctype string) []formField {
		return []formField{{"key", key}, {"success_action_status", "201"}, {"Content-Type", ctype},
			{"x-amz-meta-tag", "holiday"}, {"X-Amz-Algorithm", "AWS4-HMAC-SHA256"}, {"X-Amz-Credential", cred},
			{"X-Amz-Date", amzDate}, {"Policy", pol}, {"X-Amz-Signature", sig}}
	}
	sig := signV4Policy(secretKey, date, good)
	tests := []struct {
		name   string
		fields []formField
		file   []byte
		status int
		code   string
	}{
		{"bad signature", v4(good, signV4Policy("wrong", date, good), "uploads/${filename}", "image/jpeg"), []byte("jpeg"), 403, "SignatureDoesNotMatch"},
		{"key outside prefix", v4(good, sig, "other/x", "image/jpeg"), []byte("jpeg"), 403, "AccessDenied"},
		{"wrong content type", v4(good, sig, "uploads/x", "text/plain"), []byte("jpeg"), 403, "AccessDenied"},
		{"too large", v4(good, sig, "uploads/x", "image/jpeg"), bytes.Repeat([]byte("j"), 101), 400, "EntityTooLarge"},
		{"too small", v4(good, sig, "uploads/x", "image/jpeg"), nil, 400, "EntityTooSmall"},
		{"extra field", append(v4(good, sig, "uploads/x", "image/jpeg"), formField{"x-amz-meta-other", "1"}), []byte("jpeg"), 403, "AccessDenied"},
		{"expired", v4(policy(now.Add(-time.Minute), conds), signV4Policy(secretKey, date, policy(now.Add(-time.Minute), conds)), "uploads/x", "image/jpeg"),
			[]byte("jpeg"), 403, "AccessDenied"},
		{"anonymous without a bucket policy", []formField{{"key", "uploads/anon"}}, []byte("x"), 403, "AccessDenied"},
		{"uploaded", v4(good, sig, "uploads/${filename}", "image/jpeg"), []byte("jpeg bytes"), 201, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := e.postForm(t, "forms", tc.fields, tc.file)
			var ex struct{ Code string }
			xml.Unmarshal(body, &ex)
			if status != tc.status || ex.Code != tc.code {
				t.Fatalf("status %d %s, want %d %s", status, body, tc.status, tc.code)
			}
		})
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("forms"), Key: aws.String("uploads/photo.jpg")})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(out.Body)
	if string(b) != "jpeg bytes" || aws.ToString(out.ContentType) != "image/jpeg" || out.Metadata["tag"] != "holiday" {
		t.Fatalf("uploaded %q %s %v", b, aws.ToString(out.ContentType), out.Metadata)
	}
	for _, k := range []string{"uploads/x", "other/x", "uploads/anon"} {
		if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("forms"), Key: aws.String(k)}); err == nil {
			t.Errorf("%s was stored by a refused form", k)
		}
	}
	// Signature V2 form; the default answer is 204.
	v2pol := policy(now.Add(time.Hour), `{"bucket":"forms"},["eq","$key","v2/file"]`)
	m := hmac.New(sha1.New, []byte(secretKey))
	m.Write([]byte(v2pol))
	status, body, _ := e.postForm(t, "forms", []formField{{"key", "v2/file"}, {"AWSAccessKeyId", accessKey}, {"policy", v2pol},
		{"signature", base64.StdEncoding.EncodeToString(m.Sum(nil))}}, []byte("v2"))
	if status != 204 {
		t.Fatalf("V2 form: %d %s", status, body)
	}
	// Another user's signature is held to the bucket's owner rules.
	other := strings.Replace(conds, accessKey, otherKey, 1)
	opol := policy(now.Add(time.Hour), other)
	f := v4(opol, signV4Policy(otherSec, date, opol), "uploads/o", "image/png")
	f[5].value = strings.Replace(cred, accessKey, otherKey, 1)
	if status, body, _ := e.postForm(t, "forms", f, []byte("png")); status != 403 {
		t.Fatalf("other user's form: %d %s", status, body)
	}
}
