package gateway_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestBucketLifecycle(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx, c := context.Background(), e.s3(t)
	bk := aws.String("lcy")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bk}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: bk}); code(err) != "NoSuchLifecycleConfiguration" {
		t.Fatalf("absent lifecycle: %v", err)
	}
	bad := []struct {
		name string
		rule types.LifecycleRule
	}{
		{"no action", types.LifecycleRule{Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("a/")}}},
		{"zero days", types.LifecycleRule{Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")},
			Expiration: &types.LifecycleExpiration{Days: aws.Int32(0)}}},
		{"bad status", types.LifecycleRule{Status: "On", Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")},
			Expiration: &types.LifecycleExpiration{Days: aws.Int32(3)}}},
		{"abort after zero days", types.LifecycleRule{Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")},
			AbortIncompleteMultipartUpload: &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(0)}}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: bk,
				LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{tc.rule}}})
			if status(err) != 400 {
				t.Fatalf("got %v, want 400", err)
			}
		})
	}
	rules := []types.LifecycleRule{
		{ID: aws.String("logs"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("logs/")},
			Expiration: &types.LifecycleExpiration{Days: aws.Int32(30)}},
		{ID: aws.String("uploads"), Status: types.ExpirationStatusDisabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")},
			AbortIncompleteMultipartUpload: &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(7)}},
	}
	if _, err := c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: bk,
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: rules}}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: bk})
	if err != nil || len(got.Rules) != 2 || aws.ToString(got.Rules[0].ID) != "logs" || aws.ToInt32(got.Rules[0].Expiration.Days) != 30 ||
		aws.ToInt32(got.Rules[1].AbortIncompleteMultipartUpload.DaysAfterInitiation) != 7 {
		t.Fatalf("lifecycle read back %+v %v", got, err)
	}
	if _, err := c.DeleteBucketLifecycle(ctx, &s3.DeleteBucketLifecycleInput{Bucket: bk}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: bk}); code(err) != "NoSuchLifecycleConfiguration" {
		t.Fatalf("deleted lifecycle: %v", err)
	}
}

func TestBucketTaggingOwnershipACL(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx, c := context.Background(), e.s3(t)
	bk := aws.String("cfg")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bk}); err != nil {
		t.Fatal(err)
	}
	// Tagging.
	if _, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: bk}); code(err) != "NoSuchTagSet" {
		t.Fatalf("absent tags: %v", err)
	}
	_, err := c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: bk, Tagging: &types.Tagging{TagSet: []types.Tag{
		{Key: aws.String("a"), Value: aws.String("1")}, {Key: aws.String("a"), Value: aws.String("2")}}}})
	if code(err) != "InvalidTag" {
		t.Fatalf("duplicate tag: %v", err)
	}
	if _, err := c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: bk, Tagging: &types.Tagging{TagSet: []types.Tag{
		{Key: aws.String("team"), Value: aws.String("storage")}, {Key: aws.String("env"), Value: aws.String("dev")}}}}); err != nil {
		t.Fatal(err)
	}
	tags, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: bk})
	if err != nil || len(tags.TagSet) != 2 || aws.ToString(tags.TagSet[0].Key) != "team" || aws.ToString(tags.TagSet[1].Value) != "dev" {
		t.Fatalf("tags %+v %v", tags, err)
	}
	if _, err := c.DeleteBucketTagging(ctx, &s3.DeleteBucketTaggingInput{Bucket: bk}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: bk}); code(err) != "NoSuchTagSet" {
		t.Fatalf("deleted tags: %v", err)
	}
	// Ownership controls.
	if _, err := c.GetBucketOwnershipControls(ctx, &s3.GetBucketOwnershipControlsInput{Bucket: bk}); code(err) != "OwnershipControlsNotFoundError" {
		t.Fatalf("absent ownership: %v", err)
	}
	if _, err := c.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: bk, OwnershipControls: &types.OwnershipControls{
		Rules: []types.OwnershipControlsRule{{ObjectOwnership: "Everyone"}}}}); status(err) != 400 {
		t.Fatalf("bad ownership: %v", err)
	}
	if _, err := c.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: bk, OwnershipControls: &types.OwnershipControls{
		Rules: []types.OwnershipControlsRule{{ObjectOwnership: types.ObjectOwnershipBucketOwnerPreferred}}}}); err != nil {
		t.Fatal(err)
	}
	oc, err := c.GetBucketOwnershipControls(ctx, &s3.GetBucketOwnershipControlsInput{Bucket: bk})
	if err != nil || oc.OwnershipControls.Rules[0].ObjectOwnership != types.ObjectOwnershipBucketOwnerPreferred {
		t.Fatalf("ownership %+v %v", oc, err)
	}
	// ACLs: the owner has FULL_CONTROL; public-read adds a READ grant to everyone.
	acl, err := c.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: bk})
	if err != nil || len(acl.Grants) != 1 || acl.Grants[0].Permission != types.PermissionFullControl ||
		aws.ToString(acl.Grants[0].Grantee.ID) != aws.ToString(acl.Owner.ID) {
		t.Fatalf("acl %+v %v", acl, err)
	}
	if r := e.anon(t, "GET", "/cfg?list-type=2", nil); r.StatusCode != 403 {
		t.Fatalf("anonymous list of a private bucket: %d", r.StatusCode)
	}
	if _, err := c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: bk, ACL: types.BucketCannedACLPublicRead}); err != nil {
		t.Fatal(err)
	}
	acl, err = c.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: bk})
	if err != nil || len(acl.Grants) != 2 || acl.Grants[1].Permission != types.PermissionRead {
		t.Fatalf("public acl %+v %v", acl, err)
	}
	put(t, c, "cfg", "k", "v")
	if r := e.anon(t, "GET", "/cfg?list-type=2", nil); r.StatusCode != 200 {
		t.Fatalf("anonymous list of a public-read bucket: %d", r.StatusCode)
	}
	if r := e.anon(t, "GET", "/cfg/k", nil); r.StatusCode != 403 {
		t.Fatalf("anonymous read of an object: %d", r.StatusCode)
	}
	if _, err := c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: bk, ACL: types.BucketCannedACLPrivate}); err != nil {
		t.Fatal(err)
	}
	if r := e.anon(t, "GET", "/cfg?list-type=2", nil); r.StatusCode != 403 {
		t.Fatalf("anonymous list after private: %d", r.StatusCode)
	}
	if _, err := c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: bk, ACL: types.BucketCannedACLAuthenticatedRead}); code(err) != "NotImplemented" {
		t.Fatalf("authenticated-read: %v", err)
	}
	oacl, err := c.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: bk, Key: aws.String("k")})
	if err != nil || len(oacl.Grants) != 1 || oacl.Grants[0].Permission != types.PermissionFullControl {
		t.Fatalf("object acl %+v %v", oacl, err)
	}
	if _, err := c.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: bk, Key: aws.String("nope")}); code(err) != "NoSuchKey" {
		t.Fatalf("acl of a missing object: %v", err)
	}
	if _, err := c.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: bk, Key: aws.String("k"), ACL: types.ObjectCannedACLBucketOwnerFullControl}); err != nil {
		t.Fatal(err)
	}
	testObjectACL(t, e, c)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("pub"), ACL: types.BucketCannedACLPublicRead}); err != nil {
		t.Fatal(err)
	}
	if r := e.anon(t, "GET", "/pub", nil); r.StatusCode != 200 {
		t.Fatalf("anonymous list of a bucket created public-read: %d", r.StatusCode)
	}
	// Request payment, acceleration and object lock read as for a plain bucket.
	rp, err := c.GetBucketRequestPayment(ctx, &s3.GetBucketRequestPaymentInput{Bucket: bk})
	if err != nil || rp.Payer != types.PayerBucketOwner {
		t.Fatalf("request payment %+v %v", rp, err)
	}
	if _, err := c.PutBucketRequestPayment(ctx, &s3.PutBucketRequestPaymentInput{Bucket: bk,
		RequestPaymentConfiguration: &types.RequestPaymentConfiguration{Payer: types.PayerRequester}}); code(err) != "NotImplemented" {
		t.Fatalf("requester pays: %v", err)
	}
	ac, err := c.GetBucketAccelerateConfiguration(ctx, &s3.GetBucketAccelerateConfigurationInput{Bucket: bk})
	if err != nil || ac.Status != "" {
		t.Fatalf("accelerate %+v %v", ac, err)
	}
	if _, err := c.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: bk}); code(err) != "ObjectLockConfigurationNotFoundError" {
		t.Fatalf("object lock: %v", err)
	}
	if _, err := c.GetBucketRequestPayment(ctx, &s3.GetBucketRequestPaymentInput{Bucket: aws.String("missing")}); code(err) != "NoSuchBucket" {
		t.Fatalf("request payment of a missing bucket: %v", err)
	}
}

// testObjectACL: a public-read object ACL (PutObjectAcl, or x-amz-acl at
// PutObject) lets anonymous clients GET and HEAD that object, and no other.
func testObjectACL(t *testing.T, e *env, c *s3.Client) {
	ctx, bk := context.Background(), aws.String("cfg")
	if _, err := c.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: bk, Key: aws.String("k"), ACL: types.ObjectCannedACLPublicRead}); err != nil {
		t.Fatal(err)
	}
	oacl, err := c.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: bk, Key: aws.String("k")})
	if err != nil || len(oacl.Grants) != 2 || oacl.Grants[1].Permission != types.PermissionRead ||
		aws.ToString(oacl.Grants[1].Grantee.URI) != "http://acs.amazonaws.com/groups/global/AllUsers" {
		t.Fatalf("public object acl %+v %v", oacl, err)
	}
	if r := e.anon(t, "GET", "/cfg/k", nil); r.StatusCode != 200 {
		t.Fatalf("anonymous read of a public-read object: %d", r.StatusCode)
	}
	if r := e.anon(t, "PUT", "/cfg/k", nil); r.StatusCode != 403 {
		t.Fatalf("anonymous write of a public-read object: %d", r.StatusCode)
	}
	if _, err := c.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: bk, Key: aws.String("k"), ACL: types.ObjectCannedACLPrivate}); err != nil {
		t.Fatal(err)
	}
	if r := e.anon(t, "GET", "/cfg/k", nil); r.StatusCode != 403 {
		t.Fatalf("anonymous read after private: %d", r.StatusCode)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: bk, Key: aws.String("pub"), Body: strings.NewReader("hi"),
		ACL: types.ObjectCannedACLPublicRead}); err != nil {
		t.Fatal(err)
	}
	if r := e.anon(t, "HEAD", "/cfg/pub", nil); r.StatusCode != 200 {
		t.Fatalf("anonymous HEAD of an object put public-read: %d", r.StatusCode)
	}
	if r := e.anon(t, "GET", "/cfg/nope", nil); r.StatusCode != 403 {
		t.Fatalf("anonymous read of a missing key: %d", r.StatusCode)
	}
}
