package tlspsk

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
)

// The key schedule of RFC 8446 §7.1 for TLS_AES_128_GCM_SHA256, the one
// cipher suite served: SHA-256 is also the hash GnuTLS binds external
// PSKs to.
const hashLen = sha256.Size

// expandLabel is HKDF-Expand-Label (RFC 8446 §7.1).
func expandLabel(secret []byte, label string, context []byte, length int) []byte {
	info := make([]byte, 0, 2+1+6+len(label)+1+len(context))
	info = appendU16(info, length)
	info = appendVec8(info, []byte("tls13 "+label))
	info = appendVec8(info, context)
	out, err := hkdf.Expand(sha256.New, secret, string(info), length)
	if err != nil {
		panic("tlspsk: HKDF-Expand: " + err.Error()) // only for lengths > 255*32
	}
	return out
}

// deriveSecret is Derive-Secret with the transcript hash already taken.
func deriveSecret(secret []byte, label string, transcript []byte) []byte {
	return expandLabel(secret, label, transcript, hashLen)
}

// extract is HKDF-Extract(salt, ikm).
func extract(ikm, salt []byte) []byte {
	if ikm == nil {
		ikm = make([]byte, hashLen)
	}
	if salt == nil {
		salt = make([]byte, hashLen)
	}
	prk, err := hkdf.Extract(sha256.New, ikm, salt)
	if err != nil {
		panic("tlspsk: HKDF-Extract: " + err.Error())
	}
	return prk
}

var emptyHash = sha256.Sum256(nil)

// schedule holds the secrets of one handshake.
type schedule struct {
	early, handshake, master []byte
}

// newSchedule starts from the PSK (the early secret).
func newSchedule(psk []byte) *schedule { return &schedule{early: extract(psk, nil)} }

// binderKey is the key of external PSK binders ("ext binder").
func (s *schedule) binderKey() []byte { return deriveSecret(s.early, "ext binder", emptyHash[:]) }

// withShared mixes in the (EC)DHE shared secret: the handshake secret.
func (s *schedule) withShared(shared []byte) {
	s.handshake = extract(shared, deriveSecret(s.early, "derived", emptyHash[:]))
	s.master = extract(nil, deriveSecret(s.handshake, "derived", emptyHash[:]))
}

// finishedMAC is HMAC(finished_key(base), transcript) (RFC 8446 §4.4.4);
// binders are computed the same way from the binder key.
func finishedMAC(base, transcript []byte) []byte {
	m := hmac.New(sha256.New, expandLabel(base, "finished", nil, hashLen))
	m.Write(transcript)
	return m.Sum(nil)
}

// trafficKeys derives the AEAD and the static IV of a traffic secret.
func trafficKeys(secret []byte) (cipher.AEAD, []byte) {
	block, err := aes.NewCipher(expandLabel(secret, "key", nil, 16))
	if err != nil {
		panic("tlspsk: AES: " + err.Error())
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("tlspsk: GCM: " + err.Error())
	}
	return aead, expandLabel(secret, "iv", nil, aead.NonceSize())
}

// nextSecret is the traffic secret after a KeyUpdate (RFC 8446 §7.2).
func nextSecret(secret []byte) []byte { return expandLabel(secret, "traffic upd", nil, hashLen) }
