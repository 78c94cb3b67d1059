package gateway

import (
	"context"
	"encoding/xml"
	"errors"
	"net/http"
	"strings"

	"github.com/wolke-cloud/wolke/iam/policy"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// checkBucketPolicy validates a bucket policy: valid JSON, every statement
// with a principal, actions of S3 and resources inside the bucket.
func checkBucketPolicy(bucket string, doc []byte) error {
	if len(doc) > maxBucketPolicy {
		return apiErr(codeMalformedPolicy, "policies must be no more than 20 KB")
	}
	p, err := policy.Parse(doc, policy.Options{RequirePrincipal: true})
	if err != nil {
		var e *errs.Error
		msg := "the policy is not valid"
		if errors.As(err, &e) && e.Msg != "" {
			msg = e.Msg
		}
		return apiErr(codeMalformedPolicy, msg)
	}
	arn := "arn:aws:s3:::" + bucket
	for _, st := range p.Statements {
		for _, a := range append(append([]string(nil), st.Action...), st.NotAction...) {
			if a != "*" && !strings.HasPrefix(strings.ToLower(a), "s3:") {
				return apiErr(codeMalformedPolicy, "policy has invalid action")
			}
		}
		for _, r := range append(append([]string(nil), st.Resource...), st.NotResource...) {
			if r != arn && !strings.HasPrefix(r, arn+"/") {
				return apiErr(codeMalformedPolicy, "policy has invalid resource")
			}
		}
	}
	return nil
}

func (s *Server) putBucketPolicy(ctx context.Context, rq *request) error {
	doc, err := s.configBody(rq)
	if err != nil {
		return err
	}
	if err := checkBucketPolicy(rq.bucket, doc); err != nil {
		return err
	}
	return s.storeConfigStatus(ctx, rq, configPolicy, doc, http.StatusNoContent)
}

func (s *Server) getBucketPolicy(ctx context.Context, rq *request) error {
	return s.loadConfig(ctx, rq, configPolicy, codeNoSuchBucketPolicy, "application/json")
}

// ---- ACLs: the owner holds FULL_CONTROL; canned ACLs only ----

type grantee struct {
	XMLNSXSI    string `xml:"xmlns:xsi,attr"`
	Type        string `xml:"xsi:type,attr"`
	ID          string `xml:"ID,omitempty"`
	DisplayName string `xml:"DisplayName,omitempty"`
	URI         string `xml:"URI,omitempty"`
}

type grant struct {
	Grantee    grantee `xml:"Grantee"`
	Permission string  `xml:"Permission"`
}

type accessControlPolicy struct {
	XMLName xml.Name `xml:"AccessControlPolicy"`
	NS      string   `xml:"xmlns,attr,omitempty"`
	Owner   owner    `xml:"Owner"`
	Grants  []grant  `xml:"AccessControlList>Grant"`
}

const (
	xsiNS    = "http://www.w3.org/2001/XMLSchema-instance"
	allUsers = "http://acs.amazonaws.com/groups/global/AllUsers"
)

// bucketOwner names the owner of a bucket in ACLs and listings.
func (s *Server) bucketOwner(ctx context.Context, b *metapb.Bucket) owner {
	c, err := s.creds.Lookup(ctx, b.GetOwner())
	if err != nil {
		c.User = b.GetOwner()
	}
	return ownerOf(c)
}

func (s *Server) acl(ctx context.Context, b *metapb.Bucket, canned string) accessControlPolicy {
	o := s.bucketOwner(ctx, b)
	p := accessControlPolicy{NS: s3NS, Owner: o, Grants: []grant{{
		Grantee:    grantee{XMLNSXSI: xsiNS, Type: "CanonicalUser", ID: o.ID, DisplayName: o.DisplayName},
		Permission: "FULL_CONTROL",
	}}}
	if canned == "public-read" {
		p.Grants = append(p.Grants, grant{Grantee: grantee{XMLNSXSI: xsiNS, Type: "Group", URI: allUsers}, Permission: "READ"})
	}
	return p
}

func (s *Server) requestBucket(ctx context.Context, rq *request) (*metapb.Bucket, error) {
	if rq.bucketRec != nil {
		return rq.bucketRec, nil
	}
	b, err := s.objects.GetBucket(ctx, rq.bucket)
	return b, bucketErr(err)
}

func (s *Server) getBucketACL(ctx context.Context, rq *request) error {
	b, err := s.requestBucket(ctx, rq)
	if err != nil {
		return err
	}
	return writeXML(rq.w, s.acl(ctx, b, string(b.GetConfig()[configACL])))
}

// cannedACL reads the ACL a PUT ?acl asks for: an x-amz-acl header, or a
// body granting nothing beyond the owner's FULL_CONTROL (what "private"
// reads back as).
func (s *Server) cannedACL(ctx context.Context, rq *request, b *metapb.Bucket) (string, error) {
	if canned, given, err := headerGrants(rq.r.Header, s.bucketOwner(ctx, b).ID, aclsDisabled(b)); err != nil || given {
		return canned, err
	}
	if acl := rq.r.Header.Get("X-Amz-Acl"); acl != "" {
		switch acl {
		case "private", "bucket-owner-full-control":
			return "private", nil
		case "public-read":
			return acl, nil
		}
		return "", apiErr(codeNotImplemented, "canned ACL "+acl+" is not implemented")
	}
	doc, err := s.configBody(rq)
	if err != nil {
		return "", err
	}
	var p accessControlPolicy
	if err := xml.Unmarshal(doc, &p); err != nil {
		return "", apiErr(codeMalformedXML, "the XML you provided was not well-formed")
	}
	o := s.bucketOwner(ctx, b)
	canned := "private"
	for _, g := range p.Grants {
		switch {
		case g.Grantee.ID == o.ID && g.Permission == "FULL_CONTROL":
		case g.Grantee.URI == allUsers && g.Permission == "READ":
			canned = "public-read"
		default:
			return "", apiErr(codeNotImplemented, "ACL grants to others are not implemented; use a bucket policy")
		}
	}
	return canned, nil
}

func (s *Server) putBucketACL(ctx context.Context, rq *request) error {
	b, err := s.requestBucket(ctx, rq)
	if err != nil {
		return err
	}
	canned, err := s.cannedACL(ctx, rq, b)
	if err != nil {
		return err
	}
	if canned != "private" && aclsDisabled(b) {
		return apiErr(codeACLNotSupported, "the bucket does not allow ACLs")
	}
	if canned == "private" {
		return deleteConfig(configACL)(s, ctx, rq)
	}
	return s.storeConfig(ctx, rq, configACL, []byte(canned))
}

func (s *Server) getObjectACL(ctx context.Context, rq *request) error {
	b, err := s.requestBucket(ctx, rq)
	if err != nil {
		return err
	}
	obj, err := s.objects.HeadObject(ctx, rq.bucket, rq.key, rq.q.Get("versionId"))
	if err != nil {
		return s.missing(ctx, rq.bucket, err, codeNoSuchKey)
	}
	setVersion(rq.w, obj, b)
	return writeXML(rq.w, s.acl(ctx, b, obj.GetAcl()))
}

// putObjectACL stores a canned ACL (private or public-read, as a header
// or as the grants it reads back as) on one version of an object.
func (s *Server) putObjectACL(ctx context.Context, rq *request) error {
	b, err := s.requestBucket(ctx, rq)
	if err != nil {
		return err
	}
	vid := rq.q.Get("versionId")
	if _, err := s.objects.HeadObject(ctx, rq.bucket, rq.key, vid); err != nil {
		return s.missing(ctx, rq.bucket, err, codeNoSuchKey)
	}
	canned, err := s.cannedACL(ctx, rq, b)
	if err != nil {
		return err
	}
	if canned == "private" {
		canned = ""
	}
	if canned != "" && aclsDisabled(b) {
		return apiErr(codeACLNotSupported, "the bucket does not allow ACLs")
	}
	obj, err := s.objects.SetObjectACL(ctx, rq.bucket, rq.key, vid, canned)
	if err != nil {
		return s.missing(ctx, rq.bucket, err, codeNoSuchKey)
	}
	setVersion(rq.w, obj, b)
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

// aclsDisabled reports whether the bucket's object ownership is
// BucketOwnerEnforced: ACLs other than private are refused and ignored.
func aclsDisabled(b *metapb.Bucket) bool {
	return strings.Contains(string(b.GetConfig()[configOwnership]), ownershipBucketOwnerForce)
}

// objectACLHeader is the canned ACL x-amz-acl gives a new object: ""
// (private to the bucket owner) or "public-read". Other values are
// refused by unsupportedWriteHeaders.
func objectACLHeader(rq *request) (string, error) {
	canned, given, err := headerGrants(rq.r.Header, ownerOf(rq.auth.Credential).ID, rq.bucketRec != nil && aclsDisabled(rq.bucketRec))
	if err != nil || given {
		return strings.TrimPrefix(canned, "private"), err
	}
	if rq.r.Header.Get("X-Amz-Acl") != "public-read" {
		return "", nil
	}
	if b := rq.bucketRec; b != nil && aclsDisabled(b) {
		return "", apiErr(codeACLNotSupported, "the bucket does not allow ACLs")
	}
	return "public-read", nil
}

// publicObject reports whether the object (version) a GET or HEAD asks for
// carries the public-read ACL, which grants reading it to everyone.
func (s *Server) publicObject(ctx context.Context, rq *request, b *metapb.Bucket) bool {
	if aclsDisabled(b) || rq.key == "" {
		return false
	}
	obj, err := s.objects.HeadObject(ctx, rq.bucket, rq.key, rq.q.Get("versionId"))
	return err == nil && obj.GetAcl() == "public-read"
}
