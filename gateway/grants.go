package gateway

import (
	"net/http"
	"strings"

	"github.com/wolke-cloud/wolke/iam/sigv4"
)

// grantHeaders are the explicit ACL grant headers of S3 writes.
var grantHeaders = []string{"X-Amz-Grant-Read", "X-Amz-Grant-Write", "X-Amz-Grant-Read-Acp", "X-Amz-Grant-Write-Acp", "X-Amz-Grant-Full-Control"}

// headerGrants reads x-amz-grant-* headers (`type="value", ...` lists of
// grantees) as the canned ACL they amount to; given is false when there
// are none. The grants this gateway holds are those of its canned ACLs:
// FULL_CONTROL to the owner (ownerID; every ACL has it, as
// bucket-owner-full-control) and READ to AllUsers (public-read). Other
// grantees are refused: an e-mail address resolves to no account here
// (UnresolvableGrantByEmailAddress), other grants are not implemented. A
// bucket with ACLs disabled (aclsOff, BucketOwnerEnforced) takes only the
// owner's FULL_CONTROL and answers AccessControlListNotSupported, as S3
// does.
func headerGrants(h http.Header, ownerID string, aclsOff bool) (canned string, given bool, err error) {
	canned = "private"
	for _, name := range grantHeaders {
		v := strings.Join(h.Values(name), ",")
		if v == "" {
			continue
		}
		given = true
		for _, g := range strings.Split(v, ",") {
			typ, val, ok := strings.Cut(strings.TrimSpace(g), "=")
			typ, val = strings.ToLower(strings.TrimSpace(typ)), strings.Trim(strings.TrimSpace(val), `"`)
			switch {
			case !ok || val == "" || typ != "id" && typ != "uri" && typ != "emailaddress":
				return "", true, apiErr(sigv4.CodeInvalidArgument, "Invalid grantee in "+strings.ToLower(name))
			case name == "X-Amz-Grant-Full-Control" && typ == "id" && val == ownerID:
			case aclsOff:
				return "", true, apiErr(codeACLNotSupported, "The bucket does not allow ACLs")
			case name == "X-Amz-Grant-Read" && typ == "uri" && val == allUsers:
				canned = "public-read"
			case typ == "emailaddress":
				return "", true, apiErr(codeUnresolvableGrant, "The e-mail address you provided does not match any account on record.")
			default:
				return "", true, apiErr(codeNotImplemented, "ACL grants other than those of the canned ACLs private and public-read are not implemented; use a bucket policy")
			}
		}
	}
	if given && h.Get("X-Amz-Acl") != "" {
		return "", true, apiErr(sigv4.CodeInvalidRequest, "Specifying both Canned ACLs and Header Grants is not allowed")
	}
	return canned, given, nil
}

// withoutGrants is h without its grant headers (read by headerGrants).
func withoutGrants(h http.Header) http.Header {
	for _, name := range grantHeaders {
		if h.Get(name) != "" {
			h = h.Clone()
			for _, n := range grantHeaders {
				h.Del(n)
			}
			return h
		}
	}
	return h
}
