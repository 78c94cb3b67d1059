package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"strings"

	"github.com/wolke-cloud/wolke/iam/sigv4"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// validBucketName applies the S3 naming rules for new buckets.
func validBucketName(name string) bool {
	if len(name) < 3 || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	first, last := name[0], name[len(name)-1]
	if first == '.' || first == '-' || last == '.' || last == '-' {
		return false
	}
	if strings.Contains(name, "..") || net.ParseIP(name) != nil {
		return false
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	for _, sfx := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, sfx) {
			return false
		}
	}
	return true
}

// missing tells NoSuchBucket from code (NoSuchKey, NoSuchUpload) for a
// NotFound error of an operation inside a bucket.
func (s *Server) missing(ctx context.Context, bucket string, err error, code string) error {
	if !errs.Is(err, errs.NotFound) || sigv4.CodeOf(err) != "" {
		return err
	}
	if _, berr := s.objects.GetBucket(ctx, bucket); errs.Is(berr, errs.NotFound) {
		return apiErr(codeNoSuchBucket, "the specified bucket does not exist")
	}
	return apiErr(code, notFoundMessage(code))
}

func notFoundMessage(code string) string {
	switch code {
	case codeNoSuchKey:
		return "the specified key does not exist"
	case codeNoSuchUpload:
		return "the specified multipart upload does not exist"
	}
	return "the specified bucket does not exist"
}

func bucketErr(err error) error {
	if errs.Is(err, errs.NotFound) && sigv4.CodeOf(err) == "" {
		return apiErr(codeNoSuchBucket, "the specified bucket does not exist")
	}
	return err
}

// ownerOf names the owner in listings: a stable opaque id derived from the
// user, as S3's canonical user ids are, not the access key.
func ownerOf(c sigv4.Credential) owner {
	sum := sha256.Sum256([]byte("wolke-user:" + c.User))
	return owner{ID: hex.EncodeToString(sum[:]), DisplayName: c.User}
}

// ownedBy reports whether the bucket belongs to the caller's user, whichever
// of the user's access keys created it.
func (s *Server) ownedBy(ctx context.Context, b *metapb.Bucket, c sigv4.Credential) bool {
	if b.GetOwner() == c.AccessKey {
		return true
	}
	oc, err := s.creds.Lookup(ctx, b.GetOwner())
	return err == nil && oc.User == c.User
}

func (s *Server) listBuckets(ctx context.Context, rq *request) error {
	bs, err := s.objects.ListBuckets(ctx)
	if err != nil {
		return err
	}
	out := listAllMyBucketsResult{NS: s3NS, Owner: ownerOf(rq.auth.Credential)}
	for _, b := range bs {
		if !s.visibleTo(ctx, b, rq.auth.Credential) {
			continue // each user lists only the buckets it owns
		}
		out.Buckets = append(out.Buckets, bucketXML{Name: b.GetName(), CreationDate: isoTime(b.GetCreatedUnixNano()), BucketRegion: b.GetRegion()})
	}
	return writeXML(rq.w, out)
}

func (s *Server) createBucket(ctx context.Context, rq *request) error {
	if !validBucketName(rq.bucket) {
		return apiErr(codeInvalidBucketName, "the specified bucket is not valid")
	}
	hdr, config := createBucketACL(rq.r.Header)
	canned, _, err := headerGrants(hdr, ownerOf(rq.auth.Credential).ID, false)
	if err != nil {
		return err
	}
	if canned == "public-read" {
		config = map[string][]byte{configACL: []byte(canned)}
	}
	hdr = withoutGrants(hdr)
	if err := unsupportedWriteHeaders(hdr); err != nil {
		return err
	}
	versioning, config := objectLockAtCreate(rq.r.Header, config) // objectlock.go
	body, size, err := s.body(rq, false)
	if err != nil {
		return err
	}
	if size != 0 {
		var cfg createBucketConfiguration
		if err := readXML(body, 64<<10, &cfg); err != nil {
			return err
		}
		if lc := cfg.LocationConstraint; lc != "" && lc != s.cfg.Region {
			return apiErr(codeInvalidLocation, "the specified location constraint is not valid for this endpoint")
		}
	}
	cred := rq.auth.Credential
	err = s.objects.CreateBucket(ctx, &metapb.Bucket{
		Name:            rq.bucket,
		CreatedUnixNano: s.now().UnixNano(),
		Owner:           cred.AccessKey,
		Region:          s.cfg.Region,
		Config:          config,
		Versioning:      versioning,
	})
	if errs.Is(err, errs.Exists) && sigv4.CodeOf(err) == "" {
		if b, gerr := s.objects.GetBucket(ctx, rq.bucket); gerr == nil && s.ownedBy(ctx, b, cred) {
			return apiErr(codeBucketOwnedByYou, "your previous request to create the named bucket succeeded and you already own it")
		}
		return apiErr(codeBucketExists, "the requested bucket name is not available")
	}
	if err != nil {
		return err
	}
	rq.w.Header().Set("Location", "/"+rq.bucket)
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) headBucket(ctx context.Context, rq *request) error {
	b, err := s.objects.GetBucket(ctx, rq.bucket)
	if err != nil {
		return bucketErr(err)
	}
	rq.w.Header().Set("X-Amz-Bucket-Region", regionOf(b, s.cfg.Region))
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

func regionOf(b *metapb.Bucket, def string) string {
	if r := b.GetRegion(); r != "" {
		return r
	}
	return def
}

func (s *Server) deleteBucket(ctx context.Context, rq *request) error {
	err := s.objects.DeleteBucket(ctx, rq.bucket)
	if errs.Is(err, errs.Precondition) && sigv4.CodeOf(err) == "" {
		return apiErr(codeBucketNotEmpty, "the bucket you tried to delete is not empty")
	}
	if err != nil {
		return bucketErr(err)
	}
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) getBucketLocation(ctx context.Context, rq *request) error {
	b, err := s.objects.GetBucket(ctx, rq.bucket)
	if err != nil {
		return bucketErr(err)
	}
	loc := regionOf(b, s.cfg.Region)
	if loc == "us-east-1" {
		loc = "" // S3 answers an empty constraint for us-east-1
	}
	return writeXML(rq.w, locationConstraint{NS: s3NS, Value: loc})
}
