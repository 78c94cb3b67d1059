package gateway

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/base64"
	"net/http"

	"github.com/wolke-cloud/wolke/core"
	"github.com/wolke-cloud/wolke/iam/sigv4"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// Header prefixes of SSE-C keys: of the object a request reads or
// writes, and of a copy's source.
const (
	ssecPrefix     = "X-Amz-Server-Side-Encryption-Customer-"
	ssecCopyPrefix = "X-Amz-Copy-Source-Server-Side-Encryption-Customer-"
)

// sseRequested reports whether a request asks for encryption at rest.
func sseRequested(h http.Header) bool {
	return h.Get("X-Amz-Server-Side-Encryption") != "" || h.Get(ssecPrefix+"Algorithm") != "" || h.Get(ssecPrefix+"Key") != ""
}

// customerKey reads an SSE-C key (algorithm, key, key MD5) under a header
// prefix; nil when none is given.
func customerKey(h http.Header, prefix string) ([]byte, error) {
	alg, k, sum := h.Get(prefix+"Algorithm"), h.Get(prefix+"Key"), h.Get(prefix+"Key-Md5")
	if alg == "" && k == "" && sum == "" {
		return nil, nil
	}
	if alg != "AES256" {
		return nil, apiErr(sigv4.CodeInvalidArgument, "the customer-provided encryption algorithm must be AES256")
	}
	key, err := base64.StdEncoding.DecodeString(k)
	if err != nil || len(key) != 32 {
		return nil, apiErr(sigv4.CodeInvalidArgument, "the secret key was invalid for the specified algorithm")
	}
	want := md5.Sum(key)
	if sum != "" && sum != base64.StdEncoding.EncodeToString(want[:]) {
		return nil, apiErr(sigv4.CodeInvalidArgument, "the calculated MD5 hash of the key did not match the hash that was provided")
	}
	return key, nil
}

// writeEncryption reads the encryption a write asks for: SSE-S3
// (x-amz-server-side-encryption: AES256) or SSE-C; nil for none.
func writeEncryption(h http.Header) (*core.Encryption, error) {
	key, err := customerKey(h, ssecPrefix)
	if err != nil {
		return nil, err
	}
	switch v := h.Get("X-Amz-Server-Side-Encryption"); v {
	case "":
	case "AES256":
		if key != nil {
			return nil, apiErr(sigv4.CodeInvalidArgument, "server-side encryption with both S3 and customer keys is not valid")
		}
		return &core.Encryption{}, nil
	case "aws:kms", "aws:kms:dsse":
		return nil, apiErr(codeNotImplemented, "server-side encryption with KMS keys is not implemented")
	default:
		return nil, apiErr(sigv4.CodeInvalidArgument, "the encryption method specified is not supported")
	}
	if key != nil {
		return &core.Encryption{CustomerKey: key}, nil
	}
	return nil, nil
}

// readKey checks the SSE-C key a read of obj gives under prefix: an SSE-C
// object needs its key, other objects take none.
func readKey(h http.Header, prefix string, obj *metapb.Object) ([]byte, error) {
	key, err := customerKey(h, prefix)
	if err != nil {
		return nil, err
	}
	enc := obj.GetEncryption()
	if enc.GetAlgorithm() != core.AlgSSEC {
		if key != nil {
			return nil, apiErr(sigv4.CodeInvalidRequest, "the encryption parameters are not applicable to this object")
		}
		return nil, nil
	}
	if key == nil {
		return nil, apiErr(sigv4.CodeInvalidRequest, "the object was stored using a form of server side encryption: the correct parameters must be provided to retrieve the object")
	}
	sum := md5.Sum(key)
	if subtle.ConstantTimeCompare([]byte(base64.StdEncoding.EncodeToString(sum[:])), []byte(enc.GetCustomerKeyMd5())) != 1 {
		return nil, apiErr(sigv4.CodeAccessDenied, "the customer key does not match the one the object was stored with")
	}
	return key, nil
}

// setSSEHeaders tells how an object is encrypted.
func setSSEHeaders(w http.ResponseWriter, obj *metapb.Object) {
	switch obj.GetEncryption().GetAlgorithm() {
	case core.AlgSSES3:
		w.Header().Set("X-Amz-Server-Side-Encryption", "AES256")
	case core.AlgSSEC:
		w.Header().Set(ssecPrefix+"Algorithm", "AES256")
		w.Header().Set(ssecPrefix+"Key-Md5", obj.GetEncryption().GetCustomerKeyMd5())
	}
}

// setEncryptionRequested tells how a new upload will be encrypted.
func setEncryptionRequested(w http.ResponseWriter, enc *core.Encryption) {
	if enc.CustomerKey == nil {
		w.Header().Set("X-Amz-Server-Side-Encryption", "AES256")
		return
	}
	sum := md5.Sum(enc.CustomerKey)
	w.Header().Set(ssecPrefix+"Algorithm", "AES256")
	w.Header().Set(ssecPrefix+"Key-Md5", base64.StdEncoding.EncodeToString(sum[:]))
}
