package cluster

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

func errCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// Object lock through meta: retention and legal hold refuse deleting a
// version; GOVERNANCE yields to the bypass header, COMPLIANCE does not.
func TestObjectLock(t *testing.T) {
	c := Start(t, Options{})
	root := c.Root()
	u, _ := url.Parse(c.S3Endpoint())
	cl := s3.NewFromConfig(aws.Config{Region: "us-east-1",
		Credentials: awscreds.NewStaticCredentialsProvider(root.AccessKey, root.SecretKey, "")}, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(u.String())
		o.UsePathStyle = true
		o.RetryMaxAttempts = 1
	})
	ctx := context.Background()
	bk := aws.String("locked")
	if _, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bk, ObjectLockEnabledForBucket: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("plain")}); err != nil {
		t.Fatal(err)
	}
	lc, err := cl.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: bk})
	if err != nil || lc.ObjectLockConfiguration.ObjectLockEnabled != types.ObjectLockEnabledEnabled {
		t.Fatalf("lock configuration %+v %v", lc, err)
	}
	if _, err := cl.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: aws.String("plain"),
		ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled}}); errCode(err) != "InvalidBucketState" {
		t.Fatalf("lock on an existing bucket: %v", err)
	}
	put := func(bucket, key string) string {
		out, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader("data")})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.VersionId)
	}
	put("plain", "k")
	if _, err := cl.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{Bucket: aws.String("plain"), Key: aws.String("k"),
		LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOn}}); errCode(err) != "InvalidRequest" {
		t.Fatalf("legal hold without object lock: %v", err)
	}
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	gov, comp, held := put("locked", "k"), put("locked", "k"), put("locked", "k")
	if gov == "" || gov == "null" || gov == comp {
		t.Fatalf("versions %q %q: the bucket is not versioned", gov, comp)
	}
	retain := func(vid string, mode types.ObjectLockRetentionMode, until time.Time, bypass bool) error {
		_, err := cl.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{Bucket: bk, Key: aws.String("k"), VersionId: aws.String(vid),
			Retention: &types.ObjectLockRetention{Mode: mode, RetainUntilDate: aws.Time(until)}, BypassGovernanceRetention: aws.Bool(bypass)})
		return err
	}
	del := func(vid string, bypass bool) error {
		_, err := cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bk, Key: aws.String("k"), VersionId: aws.String(vid),
			BypassGovernanceRetention: aws.Bool(bypass)})
		return err
	}
	if err := retain(gov, types.ObjectLockRetentionModeGovernance, until, false); err != nil {
		t.Fatal(err)
	}
	if err := retain(comp, types.ObjectLockRetentionModeCompliance, until, false); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{Bucket: bk, Key: aws.String("k"), VersionId: aws.String(held),
		LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOn}}); err != nil {
		t.Fatal(err)
	}
	r, err := cl.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: bk, Key: aws.String("k"), VersionId: aws.String(comp)})
	if err != nil || r.Retention.Mode != types.ObjectLockRetentionModeCompliance || !aws.ToTime(r.Retention.RetainUntilDate).Equal(until) {
		t.Fatalf("retention %+v %v", r, err)
	}
	// Retention and legal hold given with the PUT itself.
	atPut, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: bk, Key: aws.String("k2"), Body: strings.NewReader("x"),
		ObjectLockMode: types.ObjectLockModeCompliance, ObjectLockRetainUntilDate: aws.Time(until),
		ObjectLockLegalHoldStatus: types.ObjectLockLegalHoldStatusOn})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bk, Key: aws.String("k2"), VersionId: atPut.VersionId}); errCode(err) != "AccessDenied" {
		t.Fatalf("delete of a version locked at PUT: %v", err)
	}
	if _, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("plain"), Key: aws.String("k2"), Body: strings.NewReader("x"),
		ObjectLockLegalHoldStatus: types.ObjectLockLegalHoldStatusOn}); errCode(err) != "InvalidRequest" {
		t.Fatalf("lock headers in a plain bucket: %v", err)
	}
	// A default retention applies to new versions that ask for none.
	if _, err := cl.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: bk,
		ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled,
			Rule: &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeGovernance, Days: aws.Int32(2)}}}}); err != nil {
		t.Fatal(err)
	}
	dflt := put("locked", "k3")
	dr, err := cl.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: bk, Key: aws.String("k3"), VersionId: aws.String(dflt)})
	if err != nil || dr.Retention.Mode != types.ObjectLockRetentionModeGovernance ||
		aws.ToTime(dr.Retention.RetainUntilDate).Before(time.Now().Add(47*time.Hour)) {
		t.Fatalf("default retention %+v %v", dr, err)
	}
	lc, err = cl.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: bk})
	if err != nil || lc.ObjectLockConfiguration.Rule == nil || aws.ToInt32(lc.ObjectLockConfiguration.Rule.DefaultRetention.Days) != 2 {
		t.Fatalf("lock configuration with a rule %+v %v", lc, err)
	}
	head, err := cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bk, Key: aws.String("k"), VersionId: aws.String(comp)})
	if err != nil || head.ObjectLockMode != types.ObjectLockModeCompliance || !aws.ToTime(head.ObjectLockRetainUntilDate).Equal(until) {
		t.Fatalf("head of a locked version: %+v %v", head, err)
	}
	steps := []struct {
		name string
		err  error
		code string
	}{
		{"delete governance", del(gov, false), "AccessDenied"},
		{"delete compliance with bypass", del(comp, true), "AccessDenied"},
		{"delete held", del(held, true), "AccessDenied"},
		{"shorten compliance", retain(comp, types.ObjectLockRetentionModeCompliance, until.Add(-time.Minute), true), "AccessDenied"},
		{"shorten governance", retain(gov, types.ObjectLockRetentionModeGovernance, until.Add(-time.Minute), false), "AccessDenied"},
		{"shorten governance with bypass", retain(gov, types.ObjectLockRetentionModeGovernance, until.Add(-time.Minute), true), ""},
		{"delete governance with bypass", del(gov, true), ""},
		{"delete marker over locked versions", func() error {
			_, err := cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bk, Key: aws.String("k")})
			return err
		}(), ""},
	}
	for _, s := range steps {
		if got := errCode(s.err); got != s.code {
			t.Errorf("%s: %v, want %q", s.name, s.err, s.code)
		}
	}
	if _, err := cl.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{Bucket: bk, Key: aws.String("k"), VersionId: aws.String(held),
		LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOff}}); err != nil {
		t.Fatal(err)
	}
	if err := del(held, false); err != nil {
		t.Fatalf("delete after the hold is lifted: %v", err)
	}
	if _, err := cl.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: bk, VersioningConfiguration: &types.VersioningConfiguration{
		Status: types.BucketVersioningStatusSuspended}}); err == nil {
		t.Fatal("versioning suspended on a bucket with object lock")
	}
	dout, err := cl.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: bk, Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("k"), VersionId: aws.String(comp)}}}})
	if err != nil || len(dout.Errors) != 1 || aws.ToString(dout.Errors[0].Code) != "AccessDenied" || len(dout.Deleted) != 0 {
		t.Fatalf("batch delete of a locked version: %+v %v", dout, err)
	}
	if _, err := cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bk, Key: aws.String("k"), VersionId: aws.String(comp)}); err != nil {
		t.Fatalf("the compliance version is gone: %v", err)
	}
}
