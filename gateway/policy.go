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
func (s *Server) cannedACL(ctx context.Context, rq *request, b *metapb.Bucket, bucketLevel bool) (string, error) {
	for _, g := range []string{"X-Amz-Grant-Read", "X-Amz-Grant-Write", "X-Amz-Grant-Read-Acp", "X-Amz-Grant-Write-Acp", "X-Amz-Grant-Full-Control"} {
		if rq.r.Header.Get(g) != "" {
			return "", apiErr(codeNotImplemented, "ACL grants are not implemented; use a bucket policy")
		}
	}
	if acl := rq.r.Header.Get("X-Amz-Acl"); acl != "" {
		switch acl {
		case "private", "bucket-owner-full-control":
			return "private", nil
		case "public-read":
			if bucketLevel {
				return acl, nil
			}
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
		case bucketLevel && g.Grantee.URI == allUsers && g.Permission == "READ":
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
	canned, err := s.cannedACL(ctx, rq, b, true)
	if err != nil {
		return err
	}
	if canned != "private" && string(b.GetConfig()[configOwnership]) != "" &&
		strings.Contains(string(b.GetConfig()[configOwnership]), ownershipBucketOwnerForce) {
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
	if _, err := s.objects.HeadObject(ctx, rq.bucket, rq.key, rq.q.Get("versionId")); err != nil {
		return s.missing(ctx, rq.bucket, err, codeNoSuchKey)
	}
	return writeXML(rq.w, s.acl(ctx, b, ""))
}

// putObjectACL accepts the ACL every object has: private to the owner.
func (s *Server) putObjectACL(ctx context.Context, rq *request) error {
	b, err := s.requestBucket(ctx, rq)
	if err != nil {
		return err
	}
	if _, err := s.objects.HeadObject(ctx, rq.bucket, rq.key, rq.q.Get("versionId")); err != nil {
		return s.missing(ctx, rq.bucket, err, codeNoSuchKey)
	}
	if _, err := s.cannedACL(ctx, rq, b, false); err != nil {
		return err
	}
	rq.w.WriteHeader(http.StatusOK)
	return nil
}
