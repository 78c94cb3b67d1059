// Package sigv4 verifies AWS Signature Version 4 requests: the
// Authorization header, presigned query strings and the payload modes S3
// clients use (signed hex SHA-256, UNSIGNED-PAYLOAD, aws-chunked streaming
// with per-chunk signatures, and trailing checksums).
//
// Failures are errs errors whose cause is a *Reason naming the AWS error
// code, so a protocol edge can map them with errors.As.
package sigv4

import (
	"context"
	"errors"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// Payload hash values of x-amz-content-sha256 besides a hex SHA-256.
const (
	Algorithm                = "AWS4-HMAC-SHA256"
	UnsignedPayload          = "UNSIGNED-PAYLOAD"
	StreamingPayload         = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	StreamingPayloadTrailer  = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	StreamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	// EmptySHA256 is the hex SHA-256 of no bytes.
	EmptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// Limits of the protocol.
const (
	DefaultMaxSkew   = 15 * time.Minute
	MaxPresignExpiry = 7 * 24 * time.Hour
	timeFormat       = "20060102T150405Z"
)

// AWS error codes the verifier reports.
const (
	CodeAccessDenied                 = "AccessDenied"
	CodeSignatureDoesNotMatch        = "SignatureDoesNotMatch"
	CodeInvalidAccessKeyID           = "InvalidAccessKeyId"
	CodeMissingSecurityHeader        = "MissingSecurityHeader"
	CodeAuthorizationHeaderMalformed = "AuthorizationHeaderMalformed"
	CodeAuthorizationQueryError      = "AuthorizationQueryParametersError"
	CodeRequestTimeTooSkewed         = "RequestTimeTooSkewed"
	CodeContentSHA256Mismatch        = "XAmzContentSHA256Mismatch"
	CodeIncompleteBody               = "IncompleteBody"
	CodeBadDigest                    = "BadDigest"
	CodeInvalidArgument              = "InvalidArgument"
	CodeInvalidRequest               = "InvalidRequest"
	CodeMissingContentLength         = "MissingContentLength"
)

// Credential is one access key and the user it belongs to.
type Credential struct {
	AccessKey string
	Secret    string
	User      string
}

// CredentialStore finds the secret of an access key. An unknown key is an
// error of kind errs.NotFound.
type CredentialStore interface {
	Lookup(ctx context.Context, accessKey string) (Credential, error)
}

// Reason is the AWS error code behind a failure. It travels as the cause of
// an *errs.Error, so the kind stays testable with errs.Is.
type Reason struct {
	Code    string
	Message string
}

func (r *Reason) Error() string { return r.Code + ": " + r.Message }

// Fail builds an error of the given kind carrying an AWS error code.
func Fail(op string, kind errs.Kind, code, msg string) error {
	return errs.E(op, kind, &Reason{Code: code, Message: msg})
}

// CodeOf returns the AWS error code carried by err, or "".
func CodeOf(err error) string {
	var r *Reason
	if errors.As(err, &r) {
		return r.Code
	}
	return ""
}

// Scope is the credential scope of a signature.
type Scope struct {
	Date    string // yyyymmdd
	Region  string
	Service string
}

func (s Scope) String() string {
	return s.Date + "/" + s.Region + "/" + s.Service + "/aws4_request"
}
