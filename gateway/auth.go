package gateway

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/wolke-cloud/wolke/iam/policy"
	"github.com/wolke-cloud/wolke/iam/sigv2"
	"github.com/wolke-cloud/wolke/iam/sigv4"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// verify checks the request's signature, Version 2 or 4. A V2 result gets
// the scope of the S3 endpoint, which V2 does not sign.
func (s *Server) verify(ctx context.Context, rq *request) (*sigv4.Result, error) {
	if !sigv2.Is(rq.r) {
		return s.verifier.Verify(ctx, rq.r)
	}
	v := &sigv2.Verifier{Creds: s.creds, Now: s.now}
	res, err := v.Verify(ctx, rq.r, s.hostBucket(rq.r))
	if err != nil {
		return nil, err
	}
	res.Scope = sigv4.Scope{Region: s.cfg.Region, Service: "s3"}
	return res, nil
}

// hostBucket is the bucket named by the Host of a virtual-hosted-style
// request, or "".
func (s *Server) hostBucket(r *http.Request) string {
	if s.cfg.Domain == "" {
		return ""
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	b, _ := strings.CutSuffix(strings.ToLower(host), "."+strings.ToLower(s.cfg.Domain))
	if b == strings.ToLower(host) {
		return ""
	}
	return b
}

// accessDenied is the answer to a caller without the right.
func accessDenied() error { return apiErr(sigv4.CodeAccessDenied, "access denied") }

// authorize decides whether the authenticated (or anonymous) caller may
// run op. A bucket's owner may do anything its bucket policy does not
// explicitly deny; others need an allow of the bucket policy (or, for
// listing, a public-read ACL). Unknown buckets pass, for the handler to
// answer NoSuchBucket.
func (s *Server) authorize(ctx context.Context, rq *request, op string) error {
	anon := rq.auth.Anonymous
	switch {
	case op == "PreflightRequest":
		return nil // browsers send no credentials; CORS rules decide
	case op == "PostObject":
		return nil // the form carries the signature: postObject authorizes
	case rq.bucket == "" || op == "CreateBucket" || op == "Unknown":
		if anon {
			return accessDenied()
		}
		return nil
	}
	b, err := s.buckets.get(ctx, rq.bucket, s.objects.GetBucket)
	if errs.Is(err, errs.NotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	rq.bucketRec = b
	s.applyCORS(rq, b)
	owner := !anon && s.ownedBy(ctx, b, rq.auth.Credential)
	d := policy.NotApplicable
	if doc := b.GetConfig()[configPolicy]; len(doc) > 0 {
		p, err := policy.Parse(doc, policy.Options{RequirePrincipal: true})
		if err != nil {
			// Stored by an older, laxer parser: it grants nothing, and the
			// owner keeps access to replace it.
			s.log.LogAttrs(ctx, slog.LevelWarn, "stored bucket policy does not parse",
				slog.String("bucket", rq.bucket), slog.String("err", err.Error()))
		} else {
			d = p.Evaluate(s.policyRequest(rq, op))
		}
	}
	if op == "DeleteObject" {
		if err := s.checkLockedDelete(ctx, rq, b); err != nil {
			return err
		}
	}
	switch {
	case d == policy.Deny && owner && policyOp(op):
		return nil // the owner can always repair a policy that locks it out
	case d == policy.Deny:
		return accessDenied()
	case owner || d == policy.Allow:
		return nil
	case string(b.GetConfig()[configACL]) == "public-read" && action(op) == "s3:ListBucket" && op != "HeadBucket":
		return nil // a public-read bucket ACL grants listing to everyone
	case (op == "GetObject" || op == "HeadObject") && s.publicObject(ctx, rq, b):
		return nil // a public-read object ACL grants reading it to everyone
	}
	return accessDenied()
}

func policyOp(op string) bool {
	return op == "GetBucketPolicy" || op == "PutBucketPolicy" || op == "DeleteBucketPolicy"
}

// UserARN names a Wolke user in policies, as IAM names users of an account.
func UserARN(user string) string { return "arn:aws:iam::000000000000:user/" + user }

// policyRequest describes the request for policy evaluation.
func (s *Server) policyRequest(rq *request, op string) policy.Request {
	r := rq.r
	res := "arn:aws:s3:::" + rq.bucket
	switch {
	case rq.key != "":
		res += "/" + rq.key
	case op == "DeleteObjects":
		res += "/*" // the keys are in the body: only a grant on every key covers them
	}
	ctx := map[string][]string{
		"aws:SecureTransport": {strconv.FormatBool(r.TLS != nil)},
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		ctx["aws:SourceIp"] = []string{host}
	}
	for k, h := range map[string]string{"aws:Referer": "Referer", "aws:UserAgent": "User-Agent", "s3:x-amz-acl": "X-Amz-Acl"} {
		if v := r.Header.Get(h); v != "" {
			ctx[k] = []string{v}
		}
	}
	if action(op) == "s3:ListBucket" || action(op) == "s3:ListBucketVersions" {
		for _, k := range []string{"prefix", "delimiter", "max-keys"} {
			if rq.q.Has(k) {
				ctx["s3:"+k] = []string{rq.q.Get(k)}
			}
		}
	}
	var principals []string
	if !rq.auth.Anonymous {
		c := rq.auth.Credential
		principals = []string{c.AccessKey, c.User, UserARN(c.User)}
		ctx["aws:username"] = []string{c.User}
	}
	return policy.Request{Principals: principals, Action: action(op), Resource: res, Context: ctx}
}

// action names the IAM action of an operation: "s3:" and the operation's
// name, but for the operations whose permission is named otherwise.
func action(op string) string {
	switch op {
	case "HeadBucket", "ListObjects", "ListObjectsV2":
		return "s3:ListBucket"
	case "ListObjectVersions":
		return "s3:ListBucketVersions"
	case "ListMultipartUploads":
		return "s3:ListBucketMultipartUploads"
	case "ListParts":
		return "s3:ListMultipartUploadParts"
	case "HeadObject":
		return "s3:GetObject"
	case "DeleteObjects":
		return "s3:DeleteObject"
	case "UploadPart", "CreateMultipartUpload", "CompleteMultipartUpload", "CopyObject", "UploadPartCopy", "PostObject":
		return "s3:PutObject"
	case "GetBucketCors":
		return "s3:GetBucketCORS"
	case "PutBucketCors", "DeleteBucketCors":
		return "s3:PutBucketCORS"
	case "GetBucketLifecycleConfiguration":
		return "s3:GetLifecycleConfiguration"
	case "PutBucketLifecycleConfiguration", "DeleteBucketLifecycle":
		return "s3:PutLifecycleConfiguration"
	case "DeleteBucketTagging":
		return "s3:PutBucketTagging"
	case "DeleteBucketOwnershipControls":
		return "s3:PutBucketOwnershipControls"
	case "GetBucketAccelerateConfiguration":
		return "s3:GetAccelerateConfiguration"
	case "GetObjectLockConfiguration":
		return "s3:GetBucketObjectLockConfiguration"
	case "PutObjectLockConfiguration":
		return "s3:PutBucketObjectLockConfiguration"
	case "ListBuckets":
		return "s3:ListAllMyBuckets"
	}
	return "s3:" + op
}

// visibleTo reports whether a bucket shows in the caller's ListBuckets.
func (s *Server) visibleTo(ctx context.Context, b *metapb.Bucket, c sigv4.Credential) bool {
	return s.ownedBy(ctx, b, c)
}
