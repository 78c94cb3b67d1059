package ec2api

import (
	"encoding/xml"
	"net/http"

	"github.com/wolke-cloud/wolke/iam/sigv4"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// apiError is an EC2 error answer.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func apiErr(status int, code, msg string) *apiError {
	return &apiError{status: status, code: code, message: msg}
}

// kindCodes maps error kinds to EC2 codes: the one table of this edge.
// Actions that know the resource name the NotFound code themselves
// (InvalidVolume.NotFound, InvalidSnapshot.NotFound).
var kindCodes = map[errs.Kind]struct {
	status int
	code   string
}{
	errs.NotFound:     {http.StatusBadRequest, "InvalidParameterValue"},
	errs.Exists:       {http.StatusBadRequest, "IdempotentParameterMismatch"},
	errs.Precondition: {http.StatusBadRequest, "IncorrectState"},
	errs.Invalid:      {http.StatusBadRequest, "InvalidParameterValue"},
	errs.Permission:   {http.StatusForbidden, "UnauthorizedOperation"},
	errs.Unavailable:  {http.StatusServiceUnavailable, "ServiceUnavailable"},
	errs.NoSpace:      {http.StatusServiceUnavailable, "InsufficientVolumeCapacity"},
	errs.Canceled:     {http.StatusServiceUnavailable, "RequestExpired"},
	errs.Corrupt:      {http.StatusInternalServerError, "InternalError"},
	errs.Internal:     {http.StatusInternalServerError, "InternalError"},
	errs.Other:        {http.StatusInternalServerError, "InternalError"},
}

// toAPI turns any error into an EC2 error.
func toAPI(err error) *apiError {
	if e, ok := err.(*apiError); ok {
		return e
	}
	c, ok := kindCodes[errs.KindOf(err)]
	if !ok {
		c = kindCodes[errs.Internal]
	}
	return apiErr(c.status, c.code, err.Error())
}

// withCode names the EC2 code of errors of kind k (InvalidVolume.NotFound
// for a missing volume); other errors pass.
func withCode(err error, k errs.Kind, code string) error {
	if err == nil || !errs.Is(err, k) {
		return err
	}
	c := kindCodes[k]
	return apiErr(c.status, code, err.Error())
}

// authError maps a refused signature: EC2 answers AuthFailure for all of
// them except a signature that does not match.
func authError(err error) *apiError {
	if sigv4.CodeOf(err) == "SignatureDoesNotMatch" {
		return apiErr(http.StatusForbidden, "SignatureDoesNotMatch", err.Error())
	}
	return apiErr(http.StatusUnauthorized, "AuthFailure", err.Error())
}

type errorResponse struct {
	XMLName   xml.Name   `xml:"Response"`
	Errors    []errorXML `xml:"Errors>Error"`
	RequestID string     `xml:"RequestID"`
}

type errorXML struct {
	Code    string
	Message string
}

func (h *Handler) fail(w http.ResponseWriter, rid string, e *apiError) {
	body, err := xml.Marshal(errorResponse{Errors: []errorXML{{Code: e.code, Message: e.message}}, RequestID: rid})
	if err != nil {
		body = []byte("<Response><Errors><Error><Code>InternalError</Code></Error></Errors></Response>")
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(e.status)
	_, _ = w.Write(append([]byte(xml.Header), body...))
}
