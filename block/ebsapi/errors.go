package ebsapi

import (
	"encoding/json"
	"net/http"

	"github.com/wolke-cloud/wolke/iam/sigv4"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// apiError is an EBS direct API error answer: the HTTP status, the
// exception name (x-amzn-ErrorType and __type) and its Reason.
type apiError struct {
	status  int
	code    string
	reason  string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func apiErr(status int, code, reason, msg string) *apiError {
	return &apiError{status: status, code: code, reason: reason, message: msg}
}

// toAPI turns any error into an EBS error: the handler names the client's
// mistakes itself; what is left is the service's.
func toAPI(err error) *apiError {
	if e, ok := err.(*apiError); ok {
		return e
	}
	switch errs.KindOf(err) {
	case errs.NotFound:
		return apiErr(http.StatusNotFound, "ResourceNotFoundException", "SNAPSHOT_NOT_FOUND", err.Error())
	case errs.Invalid:
		return apiErr(http.StatusBadRequest, "ValidationException", "INVALID_PARAMETER_VALUE", err.Error())
	case errs.Permission:
		return apiErr(http.StatusForbidden, "AccessDeniedException", "UNAUTHORIZED_ACCOUNT", err.Error())
	case errs.Unavailable, errs.Canceled:
		return apiErr(http.StatusServiceUnavailable, "InternalServerException", "", err.Error())
	}
	return apiErr(http.StatusInternalServerError, "InternalServerException", "", err.Error())
}

// authError maps a refused signature to the exceptions AWS's JSON APIs
// answer.
func authError(err error) *apiError {
	switch sigv4.CodeOf(err) {
	case sigv4.CodeSignatureDoesNotMatch:
		return apiErr(http.StatusForbidden, "InvalidSignatureException", "", err.Error())
	case sigv4.CodeInvalidAccessKeyID:
		return apiErr(http.StatusForbidden, "UnrecognizedClientException", "", err.Error())
	}
	return apiErr(http.StatusForbidden, "AccessDeniedException", "UNAUTHORIZED_ACCOUNT", err.Error())
}

type errorJSON struct {
	Type    string `json:"__type"`
	Message string `json:"message"`
	Reason  string `json:"Reason,omitempty"`
}

func (h *Handler) fail(w http.ResponseWriter, e *apiError) {
	msg := e.message
	if len(msg) > 256 {
		msg = msg[:256]
	}
	body, _ := json.Marshal(errorJSON{Type: e.code, Message: msg, Reason: e.reason})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-amzn-ErrorType", e.code)
	w.WriteHeader(e.status)
	_, _ = w.Write(body)
}
