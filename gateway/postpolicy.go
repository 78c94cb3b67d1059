package gateway

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wolke-cloud/wolke/core"
	"github.com/wolke-cloud/wolke/iam/sigv2"
	"github.com/wolke-cloud/wolke/iam/sigv4"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// POST Object: a browser form upload (multipart/form-data) signed by a
// POST policy, Signature V4 (x-amz-signature) or V2 (signature).

const (
	maxFormFields     = 64 << 10 // bytes of form fields before the file
	codeInvalidPolicy = "InvalidPolicyDocument"
)

func isPostForm(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "multipart/form-data"
}

// postForm is a parsed upload form up to its file.
type postForm struct {
	fields   map[string]string // lower-case names
	names    map[string]string // lower-case name → name as sent
	file     *multipart.Part
	filename string
}

func readPostForm(r *http.Request) (*postForm, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, apiErr(codeMalformedPOST, "the body of your POST request is not well-formed multipart/form-data")
	}
	f := &postForm{fields: map[string]string{}, names: map[string]string{}}
	total := 0
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return nil, apiErr(sigv4.CodeInvalidArgument, "POST requires exactly one file upload per request")
		}
		if err != nil {
			return nil, apiErr(codeMalformedPOST, "the body of your POST request is not well-formed multipart/form-data")
		}
		name := p.FormName()
		if strings.EqualFold(name, "file") {
			f.file, f.filename = p, p.FileName()
			return f, nil
		}
		b, err := io.ReadAll(io.LimitReader(p, int64(maxFormFields-total+1)))
		if err != nil {
			return nil, apiErr(codeMalformedPOST, "the body of your POST request is not well-formed multipart/form-data")
		}
		total += len(b) + len(name)
		if total > maxFormFields {
			return nil, apiErr(codeMaxPostPreData, "your POST request fields preceding the upload file were too large")
		}
		lower := strings.ToLower(name)
		f.fields[lower], f.names[lower] = string(b), name
	}
}

// postPolicy is a decoded policy document.
type postPolicy struct {
	Expiration string            `json:"expiration"`
	Conditions []json.RawMessage `json:"conditions"`
}

// postCondition is one condition: op is eq, starts-with or
// content-length-range; name is lower-case without "$".
type postCondition struct {
	op       string
	name     string
	orig     string // the field as the policy spells it, for errors
	value    string
	min, max int64
}

func policyErr(msg string) error { return apiErr(codeInvalidPolicy, msg) }

func parsePostPolicy(b64 string, now time.Time) ([]postCondition, error) {
	doc, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, policyErr("the policy is not base64-encoded")
	}
	var p postPolicy
	if err := json.Unmarshal(doc, &p); err != nil {
		return nil, policyErr("the policy is not valid JSON")
	}
	exp, err := time.Parse(time.RFC3339, p.Expiration)
	if err != nil {
		return nil, policyErr("the policy has no valid expiration")
	}
	if now.After(exp) {
		return nil, apiErr(sigv4.CodeAccessDenied, "Invalid according to Policy: Policy expired.")
	}
	var out []postCondition
	for _, raw := range p.Conditions {
		var obj map[string]string
		if json.Unmarshal(raw, &obj) == nil {
			for k, v := range obj {
				out = append(out, postCondition{op: "eq", name: strings.ToLower(strings.TrimPrefix(k, "$")), value: v,
					orig: strings.TrimPrefix(k, "$")})
			}
			continue
		}
		var arr []json.RawMessage
		if json.Unmarshal(raw, &arr) != nil || len(arr) != 3 {
			return nil, policyErr("a condition is neither an object nor a three-element list")
		}
		var op string
		if json.Unmarshal(arr[0], &op) != nil {
			return nil, policyErr("a condition has no operator")
		}
		op = strings.ToLower(op)
		if op == "content-length-range" {
			c := postCondition{op: op}
			if json.Unmarshal(arr[1], &c.min) != nil || json.Unmarshal(arr[2], &c.max) != nil || c.min < 0 || c.max < c.min {
				return nil, policyErr("content-length-range needs two integers")
			}
			out = append(out, c)
			continue
		}
		var name, value string
		if json.Unmarshal(arr[1], &name) != nil || json.Unmarshal(arr[2], &value) != nil || !strings.HasPrefix(name, "$") {
			return nil, policyErr("a condition needs a $field and a string value")
		}
		if op != "eq" && op != "starts-with" {
			return nil, policyErr("unknown condition operator " + op)
		}
		out = append(out, postCondition{op: op, name: strings.ToLower(name[1:]), value: value, orig: name[1:]})
	}
	return out, nil
}

// checkConditions applies the conditions to the form (with bucket and the
// final key) and requires every form field to be covered by one.
func checkConditions(conds []postCondition, fields, names map[string]string) (min, max int64, err error) {
	min, max = 0, MaxObjectSize
	covered := map[string]bool{}
	fail := func(c postCondition) error {
		cond, _ := json.Marshal([]string{c.op, "$" + c.orig, c.value})
		return apiErr(sigv4.CodeAccessDenied, "Invalid according to Policy: Policy Condition failed: "+
			strings.ReplaceAll(string(cond), `","`, `", "`))
	}
	for _, c := range conds {
		if c.op == "content-length-range" {
			min, max = c.min, c.max
			continue
		}
		covered[c.name] = true
		v := fields[c.name]
		switch {
		case c.op == "eq" && v != c.value:
			return 0, 0, fail(c)
		case c.op == "starts-with" && c.name == "content-type":
			// Each of a comma-separated list must start with the value.
			for _, part := range strings.Split(v, ",") {
				if !strings.HasPrefix(strings.TrimSpace(part), c.value) {
					return 0, 0, fail(c)
				}
			}
		case c.op == "starts-with" && !strings.HasPrefix(v, c.value):
			return 0, 0, fail(c)
		}
	}
	for name := range fields {
		switch {
		case covered[name], name == "policy", name == "x-amz-signature", name == "signature", name == "awsaccesskeyid",
			name == "file", name == "bucket", strings.HasPrefix(name, "x-ignore-"):
		default:
			if orig := names[name]; orig != "" {
				name = orig
			}
			return 0, 0, apiErr(sigv4.CodeAccessDenied, "Invalid according to Policy: Extra input fields: "+name)
		}
	}
	return min, max, nil
}

// verifyPost checks the form's signature; no signature fields at all is an
// anonymous upload.
func (s *Server) verifyPost(ctx context.Context, f *postForm) (*sigv4.Result, error) {
	const op = "gateway.postObject"
	fl := f.fields
	pol := fl["policy"]
	switch {
	case fl["x-amz-signature"] != "":
		if fl["x-amz-algorithm"] != sigv4.Algorithm {
			return nil, apiErr(sigv4.CodeInvalidArgument, "x-amz-algorithm must be "+sigv4.Algorithm)
		}
		parts := strings.Split(fl["x-amz-credential"], "/")
		n := len(parts)
		if n < 5 || parts[n-1] != "aws4_request" {
			return nil, apiErr(sigv4.CodeInvalidArgument, "malformed x-amz-credential")
		}
		scope := sigv4.Scope{Date: parts[n-4], Region: parts[n-3], Service: parts[n-2]}
		if scope.Service != "s3" || scope.Region != s.cfg.Region || !strings.HasPrefix(fl["x-amz-date"], scope.Date) {
			return nil, apiErr(sigv4.CodeInvalidArgument, "x-amz-credential does not match this endpoint or x-amz-date")
		}
		cred, err := s.lookupPostKey(ctx, strings.Join(parts[:n-4], "/"))
		if err != nil {
			return nil, err
		}
		want := sigv4.Sign(sigv4.SigningKey(cred.Secret, scope), pol)
		if !hmac.Equal([]byte(want), []byte(fl["x-amz-signature"])) {
			return nil, sigv4.Fail(op, errs.Permission, sigv4.CodeSignatureDoesNotMatch, "the POST policy signature does not match")
		}
		return &sigv4.Result{Credential: cred, Scope: scope}, nil
	case fl["signature"] != "":
		cred, err := s.lookupPostKey(ctx, fl["awsaccesskeyid"])
		if err != nil {
			return nil, err
		}
		got, err := base64.StdEncoding.DecodeString(fl["signature"])
		if err != nil || !hmac.Equal(got, sigv2.Sign(cred.Secret, pol)) {
			return nil, sigv4.Fail(op, errs.Permission, sigv4.CodeSignatureDoesNotMatch, "the POST policy signature does not match")
		}
		return &sigv4.Result{Credential: cred, Scope: sigv4.Scope{Region: s.cfg.Region, Service: "s3"}}, nil
	}
	return &sigv4.Result{Anonymous: true}, nil
}

func (s *Server) lookupPostKey(ctx context.Context, ak string) (sigv4.Credential, error) {
	cred, err := s.creds.Lookup(ctx, ak)
	if errs.Is(err, errs.NotFound) {
		return cred, apiErr(sigv4.CodeInvalidAccessKeyID, "the access key id does not exist")
	}
	return cred, err
}

// maxProposedDrain bounds the bytes read past a size limit to report the
// proposed size.
const maxProposedDrain = 64 << 20

// sizeLimitError is EntityTooLarge/TooSmall with AWS's ProposedSize and
// MaxSizeAllowed/MinSizeAllowed elements.
type sizeLimitError struct {
	error
	proposed, limit int64
	tooLarge        bool
}

func (e *sizeLimitError) Unwrap() error { return e.error }

// sizeReader fails the upload when the file leaves [min, max].
type sizeReader struct {
	r        io.Reader
	n        int64
	min, max int64
}

func (z *sizeReader) Read(p []byte) (int, error) {
	n, err := z.r.Read(p)
	z.n += int64(n)
	if z.n > z.max {
		// Count the rest (up to a bound) to name the proposed size.
		rest, derr := io.Copy(io.Discard, io.LimitReader(z.r, maxProposedDrain))
		proposed := z.n + rest
		if derr != nil || rest == maxProposedDrain {
			proposed = 0
		}
		return 0, &sizeLimitError{error: apiErr(codeEntityTooLarge, "Your proposed upload exceeds the maximum allowed size"),
			proposed: proposed, limit: z.max, tooLarge: true}
	}
	if err == io.EOF && z.n < z.min {
		return 0, &sizeLimitError{error: apiErr(codeEntityTooSmall, "Your proposed upload is smaller than the minimum allowed size"),
			proposed: z.n, limit: z.min}
	}
	return n, err
}

type postResponse struct {
	XMLName  xml.Name `xml:"PostResponse"`
	Location string   `xml:"Location"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	ETag     string   `xml:"ETag"`
}

func (s *Server) postObject(ctx context.Context, rq *request) error {
	f, err := readPostForm(rq.r)
	if err != nil {
		return err
	}
	fl := f.fields
	key := strings.ReplaceAll(fl["key"], "${filename}", f.filename)
	if key == "" {
		return apiErr(sigv4.CodeInvalidArgument, "bucket POST must contain a field named 'key'")
	}
	if err := checkKey(key); err != nil {
		return err
	}
	res, err := s.verifyPost(ctx, f)
	if err != nil {
		return err
	}
	min, max := int64(0), int64(MaxObjectSize)
	if !res.Anonymous || fl["policy"] != "" {
		if fl["policy"] == "" {
			return apiErr(sigv4.CodeInvalidArgument, "a signed POST needs a policy")
		}
		conds, err := parsePostPolicy(fl["policy"], s.now())
		if err != nil {
			return err
		}
		withTarget := map[string]string{}
		for k, v := range fl {
			withTarget[k] = v
		}
		withTarget["bucket"], withTarget["key"] = rq.bucket, key
		if min, max, err = checkConditions(conds, withTarget, f.names); err != nil {
			return err
		}
	}
	// Authorize as the signer, for PutObject on the key.
	rq.auth, rq.key = res, key
	if err := s.authorize(ctx, rq, "PutObject"); err != nil {
		return err
	}
	tmpl, err := postTemplate(rq.bucket, key, f)
	if err != nil {
		return err
	}
	obj, err := s.objects.PutObjectWith(ctx, tmpl, &sizeReader{r: f.file, min: min, max: max}, -1,
		core.PutOptions{Hashes: withDefault(nil)})
	if err != nil {
		var reason *sigv4.Reason
		if errors.As(err, &reason) {
			return err
		}
		return s.missing(ctx, rq.bucket, err, codeNoSuchBucket)
	}
	w := rq.w
	w.Header().Set("ETag", obj.GetEtag())
	loc := "/" + rq.bucket + "/" + (&url.URL{Path: key}).EscapedPath()
	w.Header().Set("Location", loc)
	if redirect := fl["success_action_redirect"]; redirect != "" {
		if u, err := url.Parse(redirect); err == nil && u.Scheme != "" {
			q := u.Query()
			q.Set("bucket", rq.bucket)
			q.Set("key", key)
			q.Set("etag", obj.GetEtag())
			u.RawQuery = q.Encode()
			w.Header().Set("Location", u.String())
			w.WriteHeader(http.StatusSeeOther)
			return nil
		}
	}
	switch fl["success_action_status"] {
	case "200":
		w.WriteHeader(http.StatusOK)
	case "201":
		w.WriteHeader(http.StatusCreated)
		b, _ := xml.Marshal(postResponse{Location: loc, Bucket: rq.bucket, Key: key, ETag: obj.GetEtag()})
		w.Write([]byte(xml.Header))
		w.Write(b)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
	return nil
}

// postTemplate is the new object's metadata from the form fields.
func postTemplate(bucket, key string, f *postForm) (*metapb.Object, error) {
	fl := f.fields
	h := http.Header{}
	for lower, v := range fl {
		h.Set(f.names[lower], v)
	}
	for _, name := range []string{"X-Amz-Tagging", "X-Amz-Server-Side-Encryption", "X-Amz-Storage-Class", "X-Amz-Object-Lock-Mode"} {
		if h.Get(name) != "" {
			return nil, apiErr(codeNotImplemented, strings.ToLower(name)+" in a POST form is not implemented")
		}
	}
	switch acl := h.Get("Acl"); acl {
	case "", "private", "bucket-owner-full-control":
	default:
		return nil, apiErr(codeNotImplemented, "canned ACL "+acl+" is not implemented for objects")
	}
	obj := &metapb.Object{Bucket: bucket, Key: key, ContentType: h.Get("Content-Type"),
		UserMeta: map[string]string{}, Headers: map[string]string{}}
	if obj.ContentType == "" {
		obj.ContentType = "binary/octet-stream"
	}
	size := 0
	for lower, v := range fl {
		if rest, ok := strings.CutPrefix(lower, "x-amz-meta-"); ok {
			obj.UserMeta[rest] = v
			size += len(rest) + len(v)
		}
	}
	if size > MaxUserMetadata {
		return nil, apiErr(codeMetadataTooLarge, "your metadata exceeds the maximum allowed metadata size")
	}
	for _, name := range storedHeaders() {
		if v := h.Get(name); v != "" {
			obj.Headers[name] = v
		}
	}
	return obj, nil
}
