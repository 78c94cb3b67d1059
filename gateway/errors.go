package gateway

import (
	"context"
	"encoding/xml"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/wolke-cloud/wolke/iam/sigv4"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// S3 error codes the gateway itself raises (sigv4 defines the auth ones).
const (
	codeNoSuchBucket       = "NoSuchBucket"
	codeNoSuchKey          = "NoSuchKey"
	codeNoSuchUpload       = "NoSuchUpload"
	codeBucketOwnedByYou   = "BucketAlreadyOwnedByYou"
	codeBucketExists       = "BucketAlreadyExists"
	codeBucketNotEmpty     = "BucketNotEmpty"
	codeInvalidBucketName  = "InvalidBucketName"
	codeKeyTooLong         = "KeyTooLongError"
	codeInvalidDigest      = "InvalidDigest"
	codeInvalidRange       = "InvalidRange"
	codeMalformedXML       = "MalformedXML"
	codeInvalidPart        = "InvalidPart"
	codeInvalidPartOrder   = "InvalidPartOrder"
	codeEntityTooSmall     = "EntityTooSmall"
	codeEntityTooLarge     = "EntityTooLarge"
	codeMetadataTooLarge   = "MetadataTooLarge"
	codePreconditionFailed = "PreconditionFailed"
	codeNotImplemented     = "NotImplemented"
	codeMethodNotAllowed   = "MethodNotAllowed"
	codeServiceUnavailable = "ServiceUnavailable"
	codeSlowDown           = "SlowDown"
	// codeStorageFull is Wolke's own code (S3 has none: AWS never fills
	// up); 507 as WebDAV and MinIO use it.
	codeStorageFull     = "XWolkeStorageFull"
	codeInternalError   = "InternalError"
	codeRequestTimeout  = "RequestTimeout"
	codeInvalidLocation = "InvalidLocationConstraint"
)

// codeInfo is the one table from S3 error codes to HTTP statuses, with
// the errs kind an error raised here with that code carries.
func codeInfo(code string) (status int, kind errs.Kind, ok bool) {
	switch code {
	case codeNoSuchBucket, codeNoSuchKey, codeNoSuchUpload:
		return 404, errs.NotFound, true
	case codeBucketOwnedByYou, codeBucketExists:
		return 409, errs.Exists, true
	case codeBucketNotEmpty:
		return 409, errs.Precondition, true
	case codePreconditionFailed:
		return 412, errs.Precondition, true
	case codeInvalidRange:
		return 416, errs.Invalid, true
	case sigv4.CodeMissingContentLength:
		return 411, errs.Invalid, true
	case codeMethodNotAllowed:
		return 405, errs.Invalid, true
	case codeNotImplemented:
		return 501, errs.Invalid, true
	case codeServiceUnavailable, codeSlowDown:
		return 503, errs.Unavailable, true
	case codeStorageFull:
		return 507, errs.NoSpace, true
	case codeInternalError:
		return 500, errs.Internal, true
	case codeRequestTimeout:
		return 400, errs.Canceled, true
	case sigv4.CodeAccessDenied, sigv4.CodeSignatureDoesNotMatch, sigv4.CodeInvalidAccessKeyID,
		sigv4.CodeRequestTimeTooSkewed:
		return 403, errs.Permission, true
	case codeInvalidBucketName, codeKeyTooLong, codeInvalidDigest, codeMalformedXML, codeInvalidPart,
		codeInvalidPartOrder, codeEntityTooSmall, codeEntityTooLarge, codeMetadataTooLarge, codeInvalidLocation,
		sigv4.CodeMissingSecurityHeader, sigv4.CodeAuthorizationHeaderMalformed, sigv4.CodeAuthorizationQueryError,
		sigv4.CodeContentSHA256Mismatch, sigv4.CodeIncompleteBody, sigv4.CodeBadDigest,
		sigv4.CodeInvalidArgument, sigv4.CodeInvalidRequest:
		return 400, errs.Invalid, true
	}
	if status, kind, ok := configCodeInfo(code); ok {
		return status, kind, true
	}
	return featureCodeInfo(code)
}

// kindCode names the S3 code for errors that carry only a kind.
func kindCode(k errs.Kind) string {
	switch k {
	case errs.NotFound:
		return codeNoSuchKey
	case errs.Exists:
		return codeBucketExists
	case errs.Precondition:
		return codePreconditionFailed
	case errs.Invalid:
		return sigv4.CodeInvalidArgument
	case errs.Permission:
		return sigv4.CodeAccessDenied
	case errs.Unavailable:
		return codeServiceUnavailable
	case errs.NoSpace:
		return codeStorageFull
	case errs.Canceled:
		return codeRequestTimeout
	}
	return codeInternalError
}

// apiErr builds an error carrying an S3 code; its kind comes from the table.
func apiErr(code, msg string) error {
	_, kind, ok := codeInfo(code)
	if !ok {
		kind = errs.Internal
	}
	return sigv4.Fail("gateway", kind, code, msg)
}

// s3Code returns the S3 code and HTTP status for err, and whether it is a
// server fault worth logging.
func s3Code(err error) (code string, status int, fault bool) {
	code = sigv4.CodeOf(err)
	if code == "" {
		code = kindCode(errs.KindOf(err))
	}
	status, _, ok := codeInfo(code)
	if !ok {
		return codeInternalError, 500, true
	}
	return code, status, status >= 500 && status != 501
}

type errorXML struct {
	XMLName xml.Name `xml:"Error"`
	Code    string   `xml:"Code"`
	Message string   `xml:"Message"`
	// EntityTooLarge/TooSmall of a POST upload name the sizes.
	ProposedSize   string `xml:"ProposedSize,omitempty"`
	MaxSizeAllowed string `xml:"MaxSizeAllowed,omitempty"`
	MinSizeAllowed string `xml:"MinSizeAllowed,omitempty"`
	Resource       string `xml:"Resource,omitempty"`
	RequestID      string `xml:"RequestId"`
}

// message is the text shown to clients: the reason's message when there
// is one, never internal detail of server faults.
func message(err error, fault bool) string {
	var r *sigv4.Reason
	if errors.As(err, &r) {
		return r.Message
	}
	if errs.Is(err, errs.NoSpace) {
		return "not enough free space on the cluster's disks to store this object; delete data or add disks"
	}
	if fault {
		return "we encountered an internal error, please try again"
	}
	var e *errs.Error
	if errors.As(err, &e) && e.Msg != "" {
		return e.Msg
	}
	return errs.KindOf(err).String()
}

// writeError answers err as S3 error XML (status only for HEAD).
func (s *Server) writeError(ctx context.Context, w http.ResponseWriter, r *http.Request, err error) {
	code, status, fault := s3Code(err)
	rec := recordOf(w)
	if rec != nil {
		rec.err, rec.code = err, code
	}
	if fault {
		s.log.LogAttrs(ctx, slog.LevelError, "request failed",
			slog.String("request_id", w.Header().Get("X-Amz-Request-Id")), slog.String("code", code),
			slog.String("err", err.Error()))
	}
	if code == sigv4.CodeMissingContentLength || code == codeMethodNotAllowed {
		w.Header().Set("Connection", "close")
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	ex := errorXML{
		Code:      code,
		Message:   message(err, fault),
		Resource:  r.URL.Path,
		RequestID: w.Header().Get("X-Amz-Request-Id"),
	}
	var size *sizeLimitError
	if errors.As(err, &size) {
		if size.proposed > 0 {
			ex.ProposedSize = strconv.FormatInt(size.proposed, 10)
		}
		if size.tooLarge {
			ex.MaxSizeAllowed = strconv.FormatInt(size.limit, 10)
		} else {
			ex.MinSizeAllowed = strconv.FormatInt(size.limit, 10)
		}
	}
	body, _ := xml.Marshal(ex)
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	w.Write([]byte(xml.Header))
	w.Write(body)
}
