// Package crccombine computes the CRC of a concatenation from the CRCs of
// its pieces and their lengths, without the data: the arithmetic S3 uses
// for the full-object checksum of a multipart upload (CRC-32, CRC-32C,
// CRC-64/NVME), where the object's CRC is combined from the parts' CRCs.
//
// It works for reflected CRCs whose initial value and final XOR are equal
// (all ones for the three S3 uses), the form hash/crc32 and hash/crc64
// compute. The method is zlib's: multiply crc(A) by x^(8·len(B)) modulo
// the polynomial and XOR in crc(B).
package crccombine

// Poly is a reflected CRC polynomial of width 32 or 64.
type Poly struct {
	poly  uint64
	top   uint64     // x^0 in the reflected representation
	x2n   [64]uint64 // x^(2^k) mod poly
	width uint
}

// Reflected polynomials of the S3 checksum algorithms.
const (
	CRC32     = 0xedb88320         // IEEE, hash/crc32.IEEE
	CRC32C    = 0x82f63b78         // Castagnoli
	CRC64NVME = 0x9a6c9329ac4bc9b5 // CRC-64/NVME
)

// New32 and New64 prepare a polynomial of width 32 or 64.
func New32(poly uint32) *Poly { return newPoly(uint64(poly), 32) }
func New64(poly uint64) *Poly { return newPoly(poly, 64) }

func newPoly(poly uint64, width uint) *Poly {
	p := &Poly{poly: poly, top: 1 << (width - 1), width: width}
	p.x2n[0] = p.top >> 1 // x^1
	for k := 1; k < len(p.x2n); k++ {
		p.x2n[k] = p.mul(p.x2n[k-1], p.x2n[k-1])
	}
	return p
}

// mul returns a·b modulo the polynomial (reflected: the top bit is x^0).
func (p *Poly) mul(a, b uint64) uint64 {
	var prod uint64
	for m := p.top; m != 0; m >>= 1 {
		if a&m != 0 {
			prod ^= b
			if a&(m-1) == 0 {
				break
			}
		}
		if b&1 != 0 {
			b = b>>1 ^ p.poly
		} else {
			b >>= 1
		}
	}
	return prod
}

// xpow8n returns x^(8n) modulo the polynomial.
func (p *Poly) xpow8n(n uint64) uint64 {
	r, k := p.top, 3 // x^0; 8n = n·2^3
	for ; n != 0 && k < len(p.x2n); n, k = n>>1, k+1 {
		if n&1 != 0 {
			r = p.mul(p.x2n[k], r)
		}
	}
	return r
}

// Combine returns the CRC of A followed by B from crcA, crcB and the
// length of B in bytes.
func (p *Poly) Combine(crcA, crcB uint64, lenB int64) uint64 {
	if lenB <= 0 {
		return crcA
	}
	return p.mul(p.xpow8n(uint64(lenB)), crcA) ^ crcB
}

// Bytes returns crc big-endian in width/8 bytes, as S3 encodes checksums.
func (p *Poly) Bytes(crc uint64) []byte {
	n := p.width / 8
	out := make([]byte, n)
	for i := range out {
		out[i] = byte(crc >> (8 * (n - 1 - uint(i))))
	}
	return out
}

// Value reads a big-endian checksum of width/8 bytes; false if its
// length is wrong.
func (p *Poly) Value(b []byte) (uint64, bool) {
	if uint(len(b)) != p.width/8 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v, true
}
