package gateway

import "net/http"

// codeInvalidStorageClass answers an x-amz-storage-class S3 does not know.
const codeInvalidStorageClass = "InvalidStorageClass"

// requestStorageClass reads x-amz-storage-class of a write (PUT, POST
// upload, copy, CreateMultipartUpload): "" for STANDARD; the classes
// whose objects are read like STANDARD ones are kept as a label on the
// object (its data is stored the same way) and returned in HEAD/GET and
// listings; the archive classes need the Glacier tier and answer
// NotImplemented; anything else is InvalidStorageClass, as S3 answers.
func requestStorageClass(h http.Header) (string, error) {
	switch sc := h.Get("X-Amz-Storage-Class"); sc {
	case "", "STANDARD":
		return "", nil
	case "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR":
		return sc, nil
	case "GLACIER", "DEEP_ARCHIVE":
		return "", apiErr(codeNotImplemented, "storage class "+sc+" is not implemented")
	default:
		return "", apiErr(codeInvalidStorageClass, "The storage class you specified is not valid")
	}
}
