package crccombine

import (
	"bytes"
	"hash/crc32"
	"hash/crc64"
	"math/rand/v2"
	"testing"
)

func TestCombineMatchesWholeCRC(t *testing.T) {
	ieee, cast := crc32.MakeTable(crc32.IEEE), crc32.MakeTable(crc32.Castagnoli)
	nvme := crc64.MakeTable(CRC64NVME)
	algs := []struct {
		name string
		p    *Poly
		sum  func([]byte) uint64
	}{
		{"crc32", New32(CRC32), func(b []byte) uint64 { return uint64(crc32.Checksum(b, ieee)) }},
		{"crc32c", New32(CRC32C), func(b []byte) uint64 { return uint64(crc32.Checksum(b, cast)) }},
		{"crc64nvme", New64(CRC64NVME), func(b []byte) uint64 { return crc64.Checksum(b, nvme) }},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 300_000)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	// Cuts include empty pieces, single bytes and uneven sizes.
	cuts := [][]int{{0}, {1}, {5, 0, 7}, {65536, 100_000, 3}, {299_999}, {123, 45_678, 90_000, 1}}
	for _, a := range algs {
		for _, cut := range cuts {
			var pieces [][]byte
			rest := data
			for _, n := range cut {
				pieces, rest = append(pieces, rest[:n]), rest[n:]
			}
			pieces = append(pieces, rest)
			crc := a.sum(pieces[0])
			for _, pc := range pieces[1:] {
				crc = a.p.Combine(crc, a.sum(pc), int64(len(pc)))
			}
			if want := a.sum(bytes.Join(pieces, nil)); crc != want {
				t.Errorf("%s cut %v: combined %#x, want %#x", a.name, cut, crc, want)
			}
		}
	}
}

func TestBytesRoundTrip(t *testing.T) {
	p32, p64 := New32(CRC32), New64(CRC64NVME)
	if b := p32.Bytes(0x01020304); !bytes.Equal(b, []byte{1, 2, 3, 4}) {
		t.Errorf("32-bit bytes %x", b)
	}
	if v, ok := p64.Value(p64.Bytes(0x0102030405060708)); !ok || v != 0x0102030405060708 {
		t.Errorf("64-bit round trip %#x %v", v, ok)
	}
	if _, ok := p32.Value([]byte{1, 2, 3}); ok {
		t.Error("a 3-byte CRC-32 was accepted")
	}
}
