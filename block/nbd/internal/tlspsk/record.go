package tlspsk

import (
	"crypto/cipher"
	"encoding/binary"
	"io"
	"slices"
)

// Record content types (RFC 8446 §5.1).
const (
	recordCCS       = 20
	recordAlert     = 21
	recordHandshake = 22
	recordAppData   = 23
)

const (
	maxPlaintext  = 1 << 14            // largest record payload
	maxCiphertext = maxPlaintext + 256 // largest protected record
	headerLen     = 5
	// rekeyAfter is how many records the server protects with one key
	// before it sends a KeyUpdate: well under the AES-GCM limit of
	// RFC 8446 §5.5.
	rekeyAfter = 1 << 24
)

// halfConn is the protection of one direction. A nil aead is plaintext.
type halfConn struct {
	aead   cipher.AEAD
	iv     []byte
	seq    uint64
	secret []byte
	nonceB [12]byte
}

func (h *halfConn) setSecret(secret []byte) {
	h.secret = secret
	h.aead, h.iv = trafficKeys(secret)
	h.seq = 0
}

// nonce is the per-record nonce: the IV xor the sequence number.
func (h *halfConn) nonce() []byte {
	n := h.nonceB[:len(h.iv)]
	copy(n, h.iv)
	var s [8]byte
	binary.BigEndian.PutUint64(s[:], h.seq)
	for i := range s {
		n[len(n)-8+i] ^= s[i]
	}
	return n
}

// seal appends a record of type typ carrying data (at most maxPlaintext
// bytes) to dst, encrypting in place.
func (h *halfConn) seal(dst []byte, typ byte, data []byte) []byte {
	if h.aead == nil {
		dst = append(dst, typ, 3, 3)
		dst = appendU16(dst, len(data))
		return append(dst, data...)
	}
	n := len(data) + 1 + h.aead.Overhead()
	hdr := [headerLen]byte{recordAppData, 3, 3, byte(n >> 8), byte(n)}
	dst = slices.Grow(dst, headerLen+n)
	dst = append(dst, hdr[:]...)
	start := len(dst)
	dst = append(append(dst, data...), typ)
	sealed := h.aead.Seal(dst[start:start], h.nonce(), dst[start:], hdr[:])
	h.seq++
	return dst[:start+len(sealed)]
}

// open removes the protection of one record; it returns the inner
// content type and data.
func (h *halfConn) open(hdr, body []byte) (byte, []byte, error) {
	if h.aead == nil {
		return hdr[0], body, nil
	}
	if hdr[0] != recordAppData {
		return 0, nil, alertError(alertUnexpectedMessage)
	}
	p, err := h.aead.Open(body[:0], h.nonce(), body, hdr)
	if err != nil {
		return 0, nil, alertError(alertBadRecordMAC)
	}
	h.seq++
	i := len(p) - 1
	for i >= 0 && p[i] == 0 {
		i--
	}
	if i < 0 {
		return 0, nil, alertError(alertUnexpectedMessage)
	}
	if i > maxPlaintext {
		return 0, nil, alertError(alertRecordOverflow)
	}
	return p[i], p[:i], nil
}

// readRecord reads one record from r: its header and its body (a fresh
// slice).
func readRecord(r io.Reader) (hdr [headerLen]byte, body []byte, err error) {
	if _, err = io.ReadFull(r, hdr[:]); err != nil {
		return hdr, nil, err
	}
	n, err := checkHeader(hdr)
	if err != nil {
		return hdr, nil, err
	}
	body = make([]byte, n)
	if _, err = io.ReadFull(r, body); err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return hdr, body, err
}

// checkHeader checks a record header and returns the body's length.
func checkHeader(hdr [headerLen]byte) (int, error) {
	n := int(binary.BigEndian.Uint16(hdr[3:]))
	switch {
	case hdr[0] < recordCCS || hdr[0] > recordAppData:
		return 0, alertError(alertUnexpectedMessage)
	case n > maxCiphertext:
		return 0, alertError(alertRecordOverflow)
	case hdr[1] != 3:
		return 0, alertError(alertProtocolVersion)
	}
	return n, nil
}
