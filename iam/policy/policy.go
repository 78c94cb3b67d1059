// Package policy parses and evaluates AWS IAM policy documents (the JSON of
// bucket policies and identity policies): explicit deny beats allow, allow
// beats the implicit deny. It knows principals, actions and resources with
// wildcards, and the condition operators S3 policies commonly use.
package policy

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// Decision is the outcome of evaluating a request against policies.
type Decision int

// The decisions, weakest first.
const (
	NotApplicable Decision = iota // no statement matched: implicit deny
	Allow
	Deny // an explicit deny: wins over every allow
)

func (d Decision) String() string {
	switch d {
	case Allow:
		return "Allow"
	case Deny:
		return "Deny"
	}
	return "NotApplicable"
}

// Combine returns the stronger of two decisions.
func Combine(a, b Decision) Decision { return max(a, b) }

// Request is what a policy is evaluated against.
type Request struct {
	// Principals are the names the caller is known by: access key, user
	// name, user ARN. Empty for an anonymous caller, who matches only "*".
	Principals []string
	Action     string // "s3:GetObject"
	Resource   string // "arn:aws:s3:::bucket/key"
	// Context holds condition keys (compared case-insensitively) and their
	// values: aws:SourceIp, aws:SecureTransport, s3:prefix, ...
	Context map[string][]string
}

// Policy is a parsed policy document.
type Policy struct {
	Version    string
	ID         string
	Statements []Statement
}

// Statement is one statement of a policy.
type Statement struct {
	Sid          string
	Effect       string // "Allow" or "Deny"
	Principal    *Principal
	NotPrincipal *Principal
	Action       []string
	NotAction    []string
	Resource     []string
	NotResource  []string
	Conditions   []Condition
}

// Principal lists who a statement applies to; "*" is anyone.
type Principal struct {
	Any bool
	IDs []string // AWS ARNs, account ids, access keys or user names
}

// Options shape what Parse accepts.
type Options struct {
	// RequirePrincipal is set for resource policies (bucket policies), whose
	// statements must name a principal.
	RequirePrincipal bool
}

func malformed(msg string) error { return errs.E("policy.Parse", errs.Invalid, msg) }

// Parse reads and validates a policy document. Errors are errs.Invalid,
// with a message fit for the client (S3 answers them as MalformedPolicy).
func Parse(doc []byte, o Options) (*Policy, error) {
	var raw struct {
		Version   string          `json:"Version"`
		ID        string          `json:"Id"`
		Statement json.RawMessage `json:"Statement"`
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	if err := dec.Decode(&raw); err != nil {
		return nil, malformed("policies must be valid JSON: " + err.Error())
	}
	if dec.More() {
		return nil, malformed("trailing data after the policy document")
	}
	p := &Policy{Version: raw.Version, ID: raw.ID}
	switch raw.Version {
	case "", "2008-10-17", "2012-10-17":
	default:
		return nil, malformed("the policy version must be 2012-10-17 or 2008-10-17")
	}
	var stmts []rawStatement
	if err := oneOrMany(raw.Statement, &stmts); err != nil || len(stmts) == 0 {
		return nil, malformed("missing required field Statement")
	}
	for _, rs := range stmts {
		s, err := rs.parse(o)
		if err != nil {
			return nil, err
		}
		p.Statements = append(p.Statements, s)
	}
	return p, nil
}

// oneOrMany decodes a JSON value that is either one T or an array of T.
func oneOrMany[T any](b json.RawMessage, out *[]T) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return nil
	}
	if b[0] == '[' {
		return json.Unmarshal(b, out)
	}
	var one T
	if err := json.Unmarshal(b, &one); err != nil {
		return err
	}
	*out = []T{one}
	return nil
}

type rawStatement struct {
	Sid          string                                `json:"Sid"`
	Effect       string                                `json:"Effect"`
	Principal    json.RawMessage                       `json:"Principal"`
	NotPrincipal json.RawMessage                       `json:"NotPrincipal"`
	Action       json.RawMessage                       `json:"Action"`
	NotAction    json.RawMessage                       `json:"NotAction"`
	Resource     json.RawMessage                       `json:"Resource"`
	NotResource  json.RawMessage                       `json:"NotResource"`
	Condition    map[string]map[string]json.RawMessage `json:"Condition"`
}

func (rs rawStatement) parse(o Options) (Statement, error) {
	s := Statement{Sid: rs.Sid, Effect: rs.Effect}
	if s.Effect != "Allow" && s.Effect != "Deny" {
		return s, malformed("invalid effect " + strings.TrimSpace(rs.Effect) + ": must be Allow or Deny")
	}
	var err error
	if s.Principal, err = parsePrincipal(rs.Principal); err != nil {
		return s, err
	}
	if s.NotPrincipal, err = parsePrincipal(rs.NotPrincipal); err != nil {
		return s, err
	}
	if o.RequirePrincipal && s.Principal == nil && s.NotPrincipal == nil {
		return s, malformed("statement is missing required field Principal")
	}
	if s.Principal != nil && s.NotPrincipal != nil {
		return s, malformed("a statement cannot have both Principal and NotPrincipal")
	}
	if err := strings2(rs.Action, &s.Action); err != nil {
		return s, malformed("Action must be a string or a list of strings")
	}
	if err := strings2(rs.NotAction, &s.NotAction); err != nil {
		return s, malformed("NotAction must be a string or a list of strings")
	}
	if (len(s.Action) == 0) == (len(s.NotAction) == 0) {
		return s, malformed("a statement needs exactly one of Action and NotAction")
	}
	for _, a := range append(append([]string(nil), s.Action...), s.NotAction...) {
		if a != "*" && !strings.Contains(a, ":") {
			return s, malformed("action " + a + " does not name a service")
		}
	}
	if err := strings2(rs.Resource, &s.Resource); err != nil {
		return s, malformed("Resource must be a string or a list of strings")
	}
	if err := strings2(rs.NotResource, &s.NotResource); err != nil {
		return s, malformed("NotResource must be a string or a list of strings")
	}
	if (len(s.Resource) == 0) == (len(s.NotResource) == 0) {
		return s, malformed("a statement needs exactly one of Resource and NotResource")
	}
	for _, r := range append(append([]string(nil), s.Resource...), s.NotResource...) {
		if r != "*" && !strings.HasPrefix(r, "arn:") {
			return s, malformed("resource " + r + " is not an ARN")
		}
	}
	if s.Conditions, err = parseConditions(rs.Condition); err != nil {
		return s, err
	}
	return s, nil
}

// strings2 decodes a string or a list of strings.
func strings2(b json.RawMessage, out *[]string) error {
	if err := oneOrMany(b, out); err != nil {
		return err
	}
	for _, v := range *out {
		if v == "" {
			return malformed("empty string in a list")
		}
	}
	return nil
}

func parsePrincipal(b json.RawMessage) (*Principal, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return nil, nil
	}
	var star string
	if json.Unmarshal(b, &star) == nil {
		if star != "*" {
			return nil, malformed("invalid principal " + star)
		}
		return &Principal{Any: true}, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil || len(m) == 0 {
		return nil, malformed("invalid principal in policy")
	}
	p := &Principal{}
	for kind, v := range m {
		var ids []string
		if err := strings2(v, &ids); err != nil || len(ids) == 0 {
			return nil, malformed("invalid principal in policy")
		}
		switch kind {
		case "AWS", "CanonicalUser":
		default:
			return nil, malformed("unsupported principal type " + kind)
		}
		for _, id := range ids {
			if id == "*" {
				p.Any = true
				continue
			}
			p.IDs = append(p.IDs, id)
		}
	}
	return p, nil
}
