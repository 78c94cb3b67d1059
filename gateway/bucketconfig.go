package gateway

import (
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/wolke-cloud/wolke/iam/sigv4"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// BucketConfigs stores a bucket's subresources (CORS rules, policy,
// lifecycle, tags, ownership controls, canned ACL) in its record; they
// come back in the Config map of GetBucket.
type BucketConfigs interface {
	PutBucketConfig(ctx context.Context, bucket, key string, value []byte) error
	DeleteBucketConfig(ctx context.Context, bucket, key string) error
	// SetObjectLock changes a version's retention or legal hold (objectlock.go).
	SetObjectLock(ctx context.Context, req *metapb.SetObjectLockRequest) (*metapb.Object, error)
}

// Keys of metapb.Bucket.Config.
const (
	configCORS      = "cors"
	configPolicy    = "policy"
	configLifecycle = "lifecycle"
	configTagging   = "tagging"
	configOwnership = "ownership"
	configACL       = "acl"
	configLock      = "object-lock"
)

// S3 error codes of bucket configuration.
const (
	codeMalformedPolicy       = "MalformedPolicy"
	codeNoSuchBucketPolicy    = "NoSuchBucketPolicy"
	codeNoSuchCORS            = "NoSuchCORSConfiguration"
	codeNoSuchLifecycle       = "NoSuchLifecycleConfiguration"
	codeNoSuchTagSet          = "NoSuchTagSet"
	codeNoOwnershipControls   = "OwnershipControlsNotFoundError"
	codeNoObjectLockConfig    = "ObjectLockConfigurationNotFoundError"
	codeAccessForbidden       = "AccessForbidden"
	codeBadRequest            = "BadRequest"
	codeBucketTagInvalid      = "InvalidTag"
	codeACLNotSupported       = "AccessControlListNotSupported"
	codeUnresolvableGrant     = "UnresolvableGrantByEmailAddress"
	codeMalformedPOST         = "MalformedPOSTRequest"
	codeMaxPostPreData        = "MaxPostPreDataLengthExceeded"
	maxBucketConfigBody       = 64 << 10
	maxBucketPolicy           = 20 << 10
	maxBucketTags             = 50
	maxLifecycleRules         = 1000
	ownershipBucketOwnerForce = "BucketOwnerEnforced"
)

// configCodeInfo is the part of the code table (codeInfo) for bucket
// configuration.
func configCodeInfo(code string) (status int, kind errs.Kind, ok bool) {
	switch code {
	case codeNoSuchBucketPolicy, codeNoSuchCORS, codeNoSuchLifecycle, codeNoSuchTagSet, codeNoOwnershipControls,
		codeNoObjectLockConfig:
		return 404, errs.NotFound, true
	case codeAccessForbidden:
		return 403, errs.Permission, true
	case codeMalformedPolicy, codeBadRequest, codeBucketTagInvalid, codeACLNotSupported, codeUnresolvableGrant,
		codeMalformedPOST, codeMaxPostPreData, codeInvalidPolicy:
		return 400, errs.Invalid, true
	case codeNoSuchLockConfig:
		return 404, errs.NotFound, true
	case codeInvalidBucketState:
		return 409, errs.Precondition, true
	}
	return 0, errs.Other, false
}

// routeBucketConfig routes the bucket subresources built here.
func routeBucketConfig(rq *request) (string, handler, bool) {
	q, m := rq.q, rq.r.Method
	if m == http.MethodOptions {
		return "PreflightRequest", (*Server).preflight, true
	}
	if m == http.MethodPost && len(q) == 0 && isPostForm(rq.r) {
		return "PostObject", (*Server).postObject, true
	}
	type ops struct {
		get, put, del string
		hget, hput    handler
		hdel          handler
	}
	table := []struct {
		sub string
		ops
	}{
		{"cors", ops{"GetBucketCors", "PutBucketCors", "DeleteBucketCors", (*Server).getBucketCORS, (*Server).putBucketCORS, deleteConfig(configCORS)}},
		{"policy", ops{"GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy", (*Server).getBucketPolicy, (*Server).putBucketPolicy, deleteConfig(configPolicy)}},
		{"lifecycle", ops{"GetBucketLifecycleConfiguration", "PutBucketLifecycleConfiguration", "DeleteBucketLifecycle",
			(*Server).getBucketLifecycle, (*Server).putBucketLifecycle, deleteConfig(configLifecycle)}},
		{"tagging", ops{"GetBucketTagging", "PutBucketTagging", "DeleteBucketTagging", (*Server).getBucketTagging, (*Server).putBucketTagging, deleteConfig(configTagging)}},
		{"ownershipControls", ops{"GetBucketOwnershipControls", "PutBucketOwnershipControls", "DeleteBucketOwnershipControls",
			(*Server).getOwnershipControls, (*Server).putOwnershipControls, deleteConfig(configOwnership)}},
		{"acl", ops{"GetBucketAcl", "PutBucketAcl", "", (*Server).getBucketACL, (*Server).putBucketACL, nil}},
		{"requestPayment", ops{"GetBucketRequestPayment", "PutBucketRequestPayment", "", (*Server).getRequestPayment, (*Server).putRequestPayment, nil}},
		{"accelerate", ops{"GetBucketAccelerateConfiguration", "PutBucketAccelerateConfiguration", "", (*Server).getAccelerate, (*Server).putAccelerate, nil}},
		{"object-lock", ops{"GetObjectLockConfiguration", "PutObjectLockConfiguration", "", (*Server).getObjectLockConfig,
			(*Server).putObjectLockConfig, nil}},
	}
	for _, t := range table {
		if !q.Has(t.sub) {
			continue
		}
		switch {
		case m == http.MethodGet:
			return t.get, t.hget, true
		case m == http.MethodPut:
			return t.put, t.hput, true
		case m == http.MethodDelete && t.hdel != nil:
			return t.del, t.hdel, true
		}
		return "Unknown", methodNotAllowed, true
	}
	return "", nil, false
}

// routeObjectConfig routes the object subresources built here.
func routeObjectConfig(rq *request) (string, handler, bool) {
	if op, h, ok := routeObjectLock(rq); ok {
		return op, h, true
	}
	switch {
	case rq.r.Method == http.MethodOptions:
		return "PreflightRequest", (*Server).preflight, true
	case !rq.q.Has("acl"):
		return "", nil, false
	case rq.r.Method == http.MethodGet:
		return "GetObjectAcl", (*Server).getObjectACL, true
	case rq.r.Method == http.MethodPut:
		return "PutObjectAcl", (*Server).putObjectACL, true
	}
	return "Unknown", methodNotAllowed, true
}

// configBody reads the (small) body of a configuration PUT.
func (s *Server) configBody(rq *request) ([]byte, error) {
	body, _, err := s.body(rq, false)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(body, maxBucketConfigBody+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxBucketConfigBody {
		return nil, apiErr(codeMalformedXML, "the configuration is too large")
	}
	if len(b) == 0 {
		return nil, apiErr(sigv4.CodeMissingContentLength, "a configuration body is required")
	}
	return b, nil
}

func (s *Server) storeConfig(ctx context.Context, rq *request, key string, value []byte) error {
	return s.storeConfigStatus(ctx, rq, key, value, http.StatusOK)
}

func (s *Server) storeConfigStatus(ctx context.Context, rq *request, key string, value []byte, status int) error {
	if err := s.objects.PutBucketConfig(ctx, rq.bucket, key, value); err != nil {
		return bucketErr(err)
	}
	rq.w.WriteHeader(status)
	return nil
}

func deleteConfig(key string) handler {
	return func(s *Server, ctx context.Context, rq *request) error {
		if err := s.objects.DeleteBucketConfig(ctx, rq.bucket, key); err != nil {
			return bucketErr(err)
		}
		rq.w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// loadConfig answers a stored configuration as it was stored, or the
// NotFound code when there is none.
func (s *Server) loadConfig(ctx context.Context, rq *request, key, missing, contentType string) error {
	doc, err := s.config(ctx, rq, key)
	if err != nil {
		return err
	}
	if len(doc) == 0 {
		return apiErr(missing, "the "+key+" configuration does not exist")
	}
	rq.w.Header().Set("Content-Type", contentType)
	if contentType == "application/xml" && !strings.HasPrefix(string(doc), "<?xml") {
		rq.w.Write([]byte(xml.Header))
	}
	rq.w.Write(doc)
	return nil
}

// config returns one stored subresource of the request's bucket.
func (s *Server) config(ctx context.Context, rq *request, key string) ([]byte, error) {
	b := rq.bucketRec
	if b == nil {
		var err error
		if b, err = s.objects.GetBucket(ctx, rq.bucket); err != nil {
			return nil, bucketErr(err)
		}
	}
	return b.GetConfig()[key], nil
}

// ---- tagging ----

type bucketTagging struct {
	XMLName xml.Name `xml:"Tagging"`
	NS      string   `xml:"xmlns,attr,omitempty"`
	Tags    []struct {
		Key   string `xml:"Key"`
		Value string `xml:"Value"`
	} `xml:"TagSet>Tag"`
}

func (s *Server) putBucketTagging(ctx context.Context, rq *request) error {
	doc, err := s.configBody(rq)
	if err != nil {
		return err
	}
	var t bucketTagging
	if err := xml.Unmarshal(doc, &t); err != nil {
		return apiErr(codeMalformedXML, "the XML you provided was not well-formed")
	}
	if len(t.Tags) > maxBucketTags {
		return apiErr(codeBucketTagInvalid, "bucket tags cannot be more than 50")
	}
	seen := map[string]bool{}
	for _, tag := range t.Tags {
		switch n := utf8.RuneCountInString(tag.Key); {
		case n == 0 || n > 128:
			return apiErr(codeBucketTagInvalid, "the TagKey you have provided is invalid")
		case utf8.RuneCountInString(tag.Value) > 256:
			return apiErr(codeBucketTagInvalid, "the TagValue you have provided is invalid")
		case strings.HasPrefix(tag.Key, "aws:"):
			return apiErr(codeBucketTagInvalid, "system tags cannot be set")
		case seen[tag.Key]:
			return apiErr(codeBucketTagInvalid, "cannot provide multiple tags with the same key")
		}
		seen[tag.Key] = true
	}
	t.NS = s3NS
	out, _ := xml.Marshal(t)
	return s.storeConfigStatus(ctx, rq, configTagging, out, http.StatusNoContent)
}

func (s *Server) getBucketTagging(ctx context.Context, rq *request) error {
	return s.loadConfig(ctx, rq, configTagging, codeNoSuchTagSet, "application/xml")
}

// ---- ownership controls ----

type ownershipControls struct {
	XMLName xml.Name `xml:"OwnershipControls"`
	NS      string   `xml:"xmlns,attr,omitempty"`
	Rules   []struct {
		ObjectOwnership string `xml:"ObjectOwnership"`
	} `xml:"Rule"`
}

func (s *Server) putOwnershipControls(ctx context.Context, rq *request) error {
	doc, err := s.configBody(rq)
	if err != nil {
		return err
	}
	var c ownershipControls
	if err := xml.Unmarshal(doc, &c); err != nil || len(c.Rules) != 1 {
		return apiErr(codeMalformedXML, "the XML you provided was not well-formed")
	}
	switch c.Rules[0].ObjectOwnership {
	case "BucketOwnerPreferred", "ObjectWriter", ownershipBucketOwnerForce:
	default:
		return apiErr(codeMalformedXML, "ObjectOwnership must be BucketOwnerPreferred, ObjectWriter or BucketOwnerEnforced")
	}
	c.NS = s3NS
	out, _ := xml.Marshal(c)
	return s.storeConfig(ctx, rq, configOwnership, out)
}

func (s *Server) getOwnershipControls(ctx context.Context, rq *request) error {
	return s.loadConfig(ctx, rq, configOwnership, codeNoOwnershipControls, "application/xml")
}

// ---- request payment, transfer acceleration, object lock ----

type requestPaymentConfiguration struct {
	XMLName xml.Name `xml:"RequestPaymentConfiguration"`
	NS      string   `xml:"xmlns,attr,omitempty"`
	Payer   string   `xml:"Payer"`
}

func (s *Server) getRequestPayment(ctx context.Context, rq *request) error {
	if _, err := s.config(ctx, rq, configACL); err != nil {
		return err
	}
	return writeXML(rq.w, requestPaymentConfiguration{NS: s3NS, Payer: "BucketOwner"})
}

// putRequestPayment accepts BucketOwner, the only payer Wolke has.
func (s *Server) putRequestPayment(ctx context.Context, rq *request) error {
	doc, err := s.configBody(rq)
	if err != nil {
		return err
	}
	var c requestPaymentConfiguration
	if err := xml.Unmarshal(doc, &c); err != nil {
		return apiErr(codeMalformedXML, "the XML you provided was not well-formed")
	}
	switch c.Payer {
	case "BucketOwner":
	case "Requester":
		return apiErr(codeNotImplemented, "requester pays is not implemented")
	default:
		return apiErr(codeMalformedXML, "Payer must be BucketOwner or Requester")
	}
	if _, err := s.config(ctx, rq, configACL); err != nil {
		return err
	}
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

type accelerateConfiguration struct {
	XMLName xml.Name `xml:"AccelerateConfiguration"`
	NS      string   `xml:"xmlns,attr,omitempty"`
	Status  string   `xml:"Status,omitempty"`
}

func (s *Server) getAccelerate(ctx context.Context, rq *request) error {
	if _, err := s.config(ctx, rq, configACL); err != nil {
		return err
	}
	return writeXML(rq.w, accelerateConfiguration{NS: s3NS})
}

// putAccelerate accepts Suspended, the state of every bucket here.
func (s *Server) putAccelerate(ctx context.Context, rq *request) error {
	doc, err := s.configBody(rq)
	if err != nil {
		return err
	}
	var c accelerateConfiguration
	if err := xml.Unmarshal(doc, &c); err != nil {
		return apiErr(codeMalformedXML, "the XML you provided was not well-formed")
	}
	switch c.Status {
	case "Suspended":
	case "Enabled":
		return apiErr(codeNotImplemented, "transfer acceleration is not implemented")
	default:
		return apiErr(codeMalformedXML, "Status must be Enabled or Suspended")
	}
	if _, err := s.config(ctx, rq, configACL); err != nil {
		return err
	}
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

// createBucketACL takes a canned public-read ACL off the headers of a
// CreateBucket (the other write headers are checked as for objects) and
// returns the bucket config that records it.
func createBucketACL(h http.Header) (http.Header, map[string][]byte) {
	if h.Get("X-Amz-Acl") != "public-read" {
		return h, nil
	}
	h = h.Clone()
	h.Del("X-Amz-Acl")
	return h, map[string][]byte{configACL: []byte("public-read")}
}
