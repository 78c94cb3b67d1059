package gateway

import (
	"net/http"
	"strings"

	"github.com/wolke-cloud/wolke/iam/sigv4"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// Service is an AWS API served on the gateway's port besides S3, chosen
// by the service name of the SigV4 credential scope ("ec2", "sqs", ...).
type Service interface {
	// ServeAWS answers r. The gateway checked its signature first: auth
	// is the verified caller, or authErr (with a sigv4 reason, see
	// sigv4.CodeOf) says why it was refused, and the service answers that
	// in its own error format.
	ServeAWS(w http.ResponseWriter, r *http.Request, auth *sigv4.Result, authErr error)
}

// dispatch hands requests signed for one of Deps.Services to it and
// everything else to S3.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) {
	name := scopeService(r)
	svc, ok := s.services[name]
	if !ok || name == "s3" || r.URL.Path == HealthPath {
		s.serveHTTP(w, r)
		return
	}
	res, err := s.verifier.Verify(r.Context(), r)
	if err == nil && res.Scope.Region != s.cfg.Region {
		err = sigv4.Fail("gateway.auth", errs.Invalid, sigv4.CodeAuthorizationHeaderMalformed,
			"the region "+res.Scope.Region+" is wrong; expecting "+s.cfg.Region)
	}
	if err != nil {
		res = nil
	}
	svc.ServeAWS(w, r, res, err)
}

// scopeService returns the service named in the credential scope of r's
// signature (header or presigned query), unverified, or "".
func scopeService(r *http.Request) string {
	cred := r.URL.Query().Get("X-Amz-Credential")
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "AWS4-") {
		_, rest, _ := strings.Cut(h, "Credential=")
		cred, _, _ = strings.Cut(rest, ",")
	}
	// access-key/date/region/service/aws4_request
	parts := strings.Split(strings.TrimSpace(cred), "/")
	if len(parts) < 5 {
		return ""
	}
	return parts[len(parts)-2]
}
