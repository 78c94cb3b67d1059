package gateway_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestGrantHeaders: x-amz-grant-* headers that amount to the canned ACLs
// the gateway holds (owner FULL_CONTROL, AllUsers READ) are taken on
// object and bucket writes; others get S3's errors and store nothing; a
// bucket with BucketOwnerEnforced takes only the owner's FULL_CONTROL.
func TestGrantHeaders(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx, c := context.Background(), e.s3(t)
	const allUsers = `uri="http://acs.amazonaws.com/groups/global/AllUsers"`
	bk := aws.String("grants")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bk}); err != nil {
		t.Fatal(err)
	}
	acl, err := c.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: bk})
	if err != nil {
		t.Fatal(err)
	}
	ownerFull := `id="` + aws.ToString(acl.Owner.ID) + `"`
	putWith := func(key string, f func(*s3.PutObjectInput)) error {
		in := &s3.PutObjectInput{Bucket: bk, Key: aws.String(key), Body: strings.NewReader("data")}
		f(in)
		_, err := c.PutObject(ctx, in)
		return err
	}
	if err := putWith("public", func(in *s3.PutObjectInput) {
		in.GrantRead, in.GrantFullControl = aws.String(allUsers), aws.String(ownerFull)
	}); err != nil {
		t.Fatalf("put with public-read grants: %v", err)
	}
	if r := e.anon(t, "GET", "/grants/public", nil); r.StatusCode != 200 {
		t.Errorf("anonymous read of an object granted to AllUsers: %d", r.StatusCode)
	}
	if err := putWith("owned", func(in *s3.PutObjectInput) { in.GrantFullControl = aws.String(ownerFull) }); err != nil {
		t.Fatalf("put with the owner's full control: %v", err)
	}
	if r := e.anon(t, "GET", "/grants/owned", nil); r.StatusCode != 403 {
		t.Errorf("anonymous read of a private object: %d", r.StatusCode)
	}
	for _, tc := range []struct {
		name, code string
		f          func(*s3.PutObjectInput)
	}{
		{"e-mail grantee", "UnresolvableGrantByEmailAddress", func(in *s3.PutObjectInput) { in.GrantRead = aws.String(`emailAddress="x@example.com"`) }},
		{"another id", "NotImplemented", func(in *s3.PutObjectInput) { in.GrantWriteACP = aws.String(`id="0123abcd"`) }},
		{"malformed", "InvalidArgument", func(in *s3.PutObjectInput) { in.GrantRead = aws.String(`nobody`) }},
		{"grants and a canned ACL", "InvalidRequest", func(in *s3.PutObjectInput) {
			in.GrantRead, in.ACL = aws.String(allUsers), types.ObjectCannedACLPublicRead
		}},
	} {
		if err := putWith("refused", tc.f); code(err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bk, Key: aws.String("refused")}); status(err) != 404 {
		t.Errorf("a refused put stored an object: %v", err)
	}
	// PUT ?acl with grants, and a bucket created with them.
	if _, err := c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: bk, GrantRead: aws.String(allUsers), GrantFullControl: aws.String(ownerFull)}); err != nil {
		t.Fatalf("put bucket acl with grants: %v", err)
	}
	if r := e.anon(t, "GET", "/grants?list-type=2", nil); r.StatusCode != 200 {
		t.Errorf("anonymous list of a bucket granted to AllUsers: %d", r.StatusCode)
	}
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("grants-public"), GrantRead: aws.String(allUsers)}); err != nil {
		t.Fatalf("create bucket with grants: %v", err)
	}
	if acl, err := c.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String("grants-public")}); err != nil || len(acl.Grants) != 2 {
		t.Errorf("acl of a bucket created public: %+v, %v", acl, err)
	}
	// ACLs disabled: only the owner's full control.
	if _, err := c.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: bk, OwnershipControls: &types.OwnershipControls{
		Rules: []types.OwnershipControlsRule{{ObjectOwnership: types.ObjectOwnershipBucketOwnerEnforced}}}}); err != nil {
		t.Fatal(err)
	}
	if err := putWith("enforced", func(in *s3.PutObjectInput) { in.GrantRead = aws.String(allUsers) }); code(err) != "AccessControlListNotSupported" || status(err) != 400 {
		t.Errorf("grant to AllUsers with ACLs disabled: %v", err)
	}
	if err := putWith("enforced", func(in *s3.PutObjectInput) { in.GrantFullControl = aws.String(ownerFull) }); err != nil {
		t.Errorf("owner's full control with ACLs disabled: %v", err)
	}
}
