package gateway

import (
	"context"
	"encoding/xml"
	"net/http"
	"strings"
	"time"

	"github.com/wolke-cloud/wolke/iam/policy"
	"github.com/wolke-cloud/wolke/iam/sigv4"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// S3 object lock: a bucket created with x-amz-bucket-object-lock-enabled
// is versioned for good; each version may carry a retention (GOVERNANCE or
// COMPLIANCE, until a date) and a legal hold, which meta keeps and which
// refuse deleting the version.

const (
	codeNoSuchLockConfig   = "NoSuchObjectLockConfiguration"
	codeInvalidBucketState = "InvalidBucketState"
	lockEnabledConfig      = `<ObjectLockConfiguration xmlns="` + s3NS + `"><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>`
)

// objectLockAtCreate reads x-amz-bucket-object-lock-enabled of a
// CreateBucket: such a bucket starts versioned, with object lock on.
func objectLockAtCreate(h http.Header, config map[string][]byte) (versioning string, _ map[string][]byte) {
	if !strings.EqualFold(h.Get("X-Amz-Bucket-Object-Lock-Enabled"), "true") {
		return "", config
	}
	if config == nil {
		config = map[string][]byte{}
	}
	config[configLock] = []byte(lockEnabledConfig)
	return "Enabled", config
}

func routeObjectLock(rq *request) (string, handler, bool) {
	m := rq.r.Method
	switch {
	case rq.q.Has("retention") && m == http.MethodGet:
		return "GetObjectRetention", (*Server).getObjectRetention, true
	case rq.q.Has("retention") && m == http.MethodPut:
		return "PutObjectRetention", (*Server).putObjectRetention, true
	case rq.q.Has("legal-hold") && m == http.MethodGet:
		return "GetObjectLegalHold", (*Server).getObjectLegalHold, true
	case rq.q.Has("legal-hold") && m == http.MethodPut:
		return "PutObjectLegalHold", (*Server).putObjectLegalHold, true
	case rq.q.Has("retention") || rq.q.Has("legal-hold"):
		return "Unknown", methodNotAllowed, true
	}
	return "", nil, false
}

type objectLockConfiguration struct {
	XMLName           xml.Name  `xml:"ObjectLockConfiguration"`
	NS                string    `xml:"xmlns,attr,omitempty"`
	ObjectLockEnabled string    `xml:"ObjectLockEnabled"`
	Rule              *lockRule `xml:"Rule"`
}

type lockRule struct {
	DefaultRetention struct {
		Mode  string `xml:"Mode"`
		Days  *int   `xml:"Days"`
		Years *int   `xml:"Years"`
	} `xml:"DefaultRetention"`
}

// defaultRetention is the bucket's default retention rule, or nil.
func defaultRetention(b *metapb.Bucket) *lockRule {
	var c objectLockConfiguration
	if b == nil || xml.Unmarshal(b.GetConfig()[configLock], &c) != nil {
		return nil
	}
	return c.Rule
}

// until is when a retention of this rule that starts at t ends.
func (r *lockRule) until(t time.Time) time.Time {
	if d := r.DefaultRetention.Days; d != nil {
		return t.AddDate(0, 0, *d)
	}
	return t.AddDate(*r.DefaultRetention.Years, 0, 0)
}

func (s *Server) getObjectLockConfig(ctx context.Context, rq *request) error {
	return s.loadConfig(ctx, rq, configLock, codeNoObjectLockConfig, "application/xml")
}

// putObjectLockConfig sets the default retention of a lock-enabled bucket
// (applied to new objects that ask for none).
func (s *Server) putObjectLockConfig(ctx context.Context, rq *request) error {
	doc, err := s.configBody(rq)
	if err != nil {
		return err
	}
	var c objectLockConfiguration
	if err := xml.Unmarshal(doc, &c); err != nil || c.ObjectLockEnabled != "Enabled" {
		return apiErr(codeMalformedXML, "the XML you provided was not well-formed")
	}
	cur, err := s.config(ctx, rq, configLock)
	if err != nil {
		return err
	}
	if len(cur) == 0 {
		return apiErr(codeInvalidBucketState, "object lock configuration cannot be enabled on existing buckets")
	}
	if r := c.Rule; r != nil {
		d := r.DefaultRetention
		if d.Mode != "GOVERNANCE" && d.Mode != "COMPLIANCE" {
			return apiErr(codeMalformedXML, "Mode must be GOVERNANCE or COMPLIANCE")
		}
		if (d.Days == nil) == (d.Years == nil) || d.Days != nil && *d.Days <= 0 || d.Years != nil && *d.Years <= 0 {
			return apiErr(codeMalformedXML, "a default retention needs a positive Days or Years, not both")
		}
	}
	c.NS = s3NS
	out, _ := xml.Marshal(c)
	return s.storeConfig(ctx, rq, configLock, out)
}

type retentionXML struct {
	XMLName         xml.Name `xml:"Retention"`
	NS              string   `xml:"xmlns,attr,omitempty"`
	Mode            string   `xml:"Mode,omitempty"`
	RetainUntilDate string   `xml:"RetainUntilDate,omitempty"`
}

type legalHoldXML struct {
	XMLName xml.Name `xml:"LegalHold"`
	NS      string   `xml:"xmlns,attr,omitempty"`
	Status  string   `xml:"Status"`
}

// lockedObject reads the version a lock request names, in a bucket with
// object lock.
func (s *Server) lockedObject(ctx context.Context, rq *request) (*metapb.Object, error) {
	cfg, err := s.config(ctx, rq, configLock)
	if err != nil {
		return nil, err
	}
	if len(cfg) == 0 {
		return nil, apiErr(sigv4.CodeInvalidRequest, "bucket is missing object lock configuration")
	}
	obj, err := s.objects.HeadObject(ctx, rq.bucket, rq.key, rq.q.Get("versionId"))
	if err != nil {
		return nil, s.missing(ctx, rq.bucket, err, codeNoSuchKey)
	}
	return obj, nil
}

func (s *Server) getObjectRetention(ctx context.Context, rq *request) error {
	obj, err := s.lockedObject(ctx, rq)
	if err != nil {
		return err
	}
	if obj.GetLockMode() == "" {
		return apiErr(codeNoSuchLockConfig, "the specified object does not have a retention configuration")
	}
	return writeXML(rq.w, retentionXML{NS: s3NS, Mode: obj.GetLockMode(), RetainUntilDate: isoTime(obj.GetLockRetainUntilUnixNano())})
}

func (s *Server) getObjectLegalHold(ctx context.Context, rq *request) error {
	obj, err := s.lockedObject(ctx, rq)
	if err != nil {
		return err
	}
	status := "OFF"
	if obj.GetLegalHold() {
		status = "ON"
	}
	return writeXML(rq.w, legalHoldXML{NS: s3NS, Status: status})
}

func (s *Server) putObjectRetention(ctx context.Context, rq *request) error {
	doc, err := s.configBody(rq)
	if err != nil {
		return err
	}
	var r retentionXML
	if err := xml.Unmarshal(doc, &r); err != nil {
		return apiErr(codeMalformedXML, "the XML you provided was not well-formed")
	}
	req := &metapb.SetObjectLockRequest{Bucket: rq.bucket, Key: rq.key, VersionId: rq.q.Get("versionId"),
		SetRetention: true, Mode: r.Mode, BypassGovernance: s.bypassGovernance(ctx, rq)}
	switch {
	case r.Mode == "" && r.RetainUntilDate == "":
	case r.Mode != "GOVERNANCE" && r.Mode != "COMPLIANCE":
		return apiErr(codeMalformedXML, "Mode must be GOVERNANCE or COMPLIANCE")
	default:
		t, err := time.Parse(time.RFC3339, r.RetainUntilDate)
		if err != nil {
			return apiErr(codeMalformedXML, "RetainUntilDate must be an ISO 8601 date")
		}
		if !t.After(s.now()) {
			return apiErr(sigv4.CodeInvalidArgument, "the retain until date must be in the future")
		}
		req.RetainUntilUnixNano = t.UnixNano()
	}
	return s.setLock(ctx, rq, req)
}

func (s *Server) putObjectLegalHold(ctx context.Context, rq *request) error {
	doc, err := s.configBody(rq)
	if err != nil {
		return err
	}
	var h legalHoldXML
	if err := xml.Unmarshal(doc, &h); err != nil || h.Status != "ON" && h.Status != "OFF" {
		return apiErr(codeMalformedXML, "Status must be ON or OFF")
	}
	return s.setLock(ctx, rq, &metapb.SetObjectLockRequest{Bucket: rq.bucket, Key: rq.key, VersionId: rq.q.Get("versionId"),
		SetLegalHold: true, LegalHold: h.Status == "ON"})
}

func (s *Server) setLock(ctx context.Context, rq *request, req *metapb.SetObjectLockRequest) error {
	if _, err := s.lockedObject(ctx, rq); err != nil {
		return err
	}
	_, err := s.objects.SetObjectLock(ctx, req)
	switch {
	case err == nil:
		rq.w.WriteHeader(http.StatusOK)
		return nil
	case sigv4.CodeOf(err) != "":
		return err
	case errs.Is(err, errs.Permission):
		return apiErr(sigv4.CodeAccessDenied, "access denied: the object is locked")
	case errs.Is(err, errs.Precondition):
		return apiErr(sigv4.CodeInvalidRequest, "bucket is missing object lock configuration")
	case errs.Is(err, errs.Invalid):
		return apiErr(sigv4.CodeInvalidArgument, "invalid object lock request")
	}
	return s.missing(ctx, rq.bucket, err, codeNoSuchKey)
}

// bypassGovernance reports whether the request asks to bypass GOVERNANCE
// retention and may: the bucket's owner, or a caller the bucket policy
// grants s3:BypassGovernanceRetention.
func (s *Server) bypassGovernance(ctx context.Context, rq *request) bool {
	if !strings.EqualFold(rq.r.Header.Get("X-Amz-Bypass-Governance-Retention"), "true") || rq.auth.Anonymous {
		return false
	}
	b, err := s.requestBucket(ctx, rq)
	if err != nil {
		return false
	}
	if s.ownedBy(ctx, b, rq.auth.Credential) {
		return true
	}
	doc := b.GetConfig()[configPolicy]
	p, err := policy.Parse(doc, policy.Options{RequirePrincipal: true})
	if len(doc) == 0 || err != nil {
		return false
	}
	return p.Evaluate(s.policyRequest(rq, "BypassGovernanceRetention")) == policy.Allow
}

// lockHeaderNames are the object lock headers of a write.
func lockHeaderNames() []string {
	return []string{"X-Amz-Object-Lock-Mode", "X-Amz-Object-Lock-Retain-Until-Date", "X-Amz-Object-Lock-Legal-Hold"}
}

// withoutLockHeaders is h less the object lock headers, which
// applyLockHeaders handles.
func withoutLockHeaders(h http.Header) http.Header {
	for _, n := range lockHeaderNames() {
		if h.Get(n) != "" {
			h = h.Clone()
			for _, n := range lockHeaderNames() {
				h.Del(n)
			}
			return h
		}
	}
	return h
}

// applyLockHeaders sets the retention and legal hold a write asks for on
// the new object, in a bucket with object lock.
func applyLockHeaders(rq *request, obj *metapb.Object) error {
	h := rq.r.Header
	mode, until, hold := h.Get(lockHeaderNames()[0]), h.Get(lockHeaderNames()[1]), h.Get(lockHeaderNames()[2])
	if mode == "" && until == "" {
		if r := defaultRetention(rq.bucketRec); r != nil {
			obj.LockMode = r.DefaultRetention.Mode
			obj.LockRetainUntilUnixNano = r.until(time.Now()).UnixNano()
		}
	}
	if mode == "" && until == "" && hold == "" {
		return nil
	}
	if b := rq.bucketRec; b == nil || len(b.GetConfig()[configLock]) == 0 {
		return apiErr(sigv4.CodeInvalidRequest, "bucket is missing object lock configuration")
	}
	if (mode == "") != (until == "") {
		return apiErr(sigv4.CodeInvalidArgument, "x-amz-object-lock-mode and x-amz-object-lock-retain-until-date must both be supplied")
	}
	if mode != "" {
		if mode != "GOVERNANCE" && mode != "COMPLIANCE" {
			return apiErr(sigv4.CodeInvalidArgument, "unknown wormMode directive")
		}
		t, err := time.Parse(time.RFC3339, until)
		if err != nil || !t.After(time.Now()) {
			return apiErr(sigv4.CodeInvalidArgument, "the retain until date must be a future ISO 8601 date")
		}
		obj.LockMode, obj.LockRetainUntilUnixNano = mode, t.UnixNano()
	}
	switch hold {
	case "", "OFF":
	case "ON":
		obj.LegalHold = true
	default:
		return apiErr(sigv4.CodeInvalidArgument, "x-amz-object-lock-legal-hold must be ON or OFF")
	}
	return nil
}

// setLockHeaders shows a version's lock on GET and HEAD.
func setLockHeaders(w http.ResponseWriter, obj *metapb.Object) {
	h := w.Header()
	if m := obj.GetLockMode(); m != "" {
		h.Set("X-Amz-Object-Lock-Mode", m)
		h.Set("X-Amz-Object-Lock-Retain-Until-Date", isoTime(obj.GetLockRetainUntilUnixNano()))
	}
	if obj.GetLegalHold() {
		h.Set("X-Amz-Object-Lock-Legal-Hold", "ON")
	}
}

// checkLockedDelete refuses deleting a version that is under legal hold
// or retention (GOVERNANCE can be bypassed).
func (s *Server) checkLockedDelete(ctx context.Context, rq *request, b *metapb.Bucket) error {
	return s.lockedVersion(ctx, rq, b, rq.key, rq.q.Get("versionId"))
}

// lockedVersion is AccessDenied when version vid of key may not be
// deleted now; nil otherwise, and for an empty vid (a delete marker hides,
// it destroys nothing) or a bucket without object lock. DeleteObjects
// should ask it for each key with a version id.
func (s *Server) lockedVersion(ctx context.Context, rq *request, b *metapb.Bucket, key, vid string) error {
	if vid == "" || len(b.GetConfig()[configLock]) == 0 {
		return nil
	}
	obj, err := s.objects.HeadObject(ctx, b.GetName(), key, vid)
	if err != nil {
		return nil // the handler answers for missing versions
	}
	switch {
	case obj.GetLegalHold():
		return apiErr(sigv4.CodeAccessDenied, "access denied: the object version is under legal hold")
	case obj.GetLockMode() == "" || obj.GetLockRetainUntilUnixNano() <= s.now().UnixNano():
		return nil
	case obj.GetLockMode() == "GOVERNANCE" && s.bypassGovernance(ctx, rq):
		return nil
	}
	return apiErr(sigv4.CodeAccessDenied, "access denied: the object version is locked until "+isoTime(obj.GetLockRetainUntilUnixNano()))
}
