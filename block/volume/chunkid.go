package volume

import (
	"crypto/rand"
	"encoding/hex"
)

func allZero(b []byte) bool {
	for len(b) >= 8 {
		if b[0]|b[1]|b[2]|b[3]|b[4]|b[5]|b[6]|b[7] != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func hex64(i uint64) string {
	const digits = "0123456789abcdef"
	var b [16]byte
	for j := 15; j >= 0; j-- {
		b[j] = digits[i&15]
		i >>= 4
	}
	return string(b[:])
}

func newChunkSuffix() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
