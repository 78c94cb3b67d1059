package store

import "github.com/wolke-cloud/wolke/chunk/disk"

// castagnoliRev is the CRC32C polynomial, bit-reversed.
const castagnoliRev = 0x82f63b78

// gf2Matrix is a linear operator on CRC32 values (GF(2)^32).
type gf2Matrix [32]uint32

func (m *gf2Matrix) times(v uint32) uint32 {
	var sum uint32
	for i := 0; v != 0; i++ {
		if v&1 != 0 {
			sum ^= m[i]
		}
		v >>= 1
	}
	return sum
}

func (m *gf2Matrix) square() gf2Matrix {
	var sq gf2Matrix
	for i := range sq {
		sq[i] = m.times(m[i])
	}
	return sq
}

// crcShift returns the operator that advances a CRC32C over n zero bytes
// (zlib's crc32_combine): crc(A‖B) = shift_len(B)(crc(A)) ^ crc(B).
func crcShift(n int64) gf2Matrix {
	var op gf2Matrix // one zero bit
	op[0] = castagnoliRev
	for i, row := 1, uint32(1); i < 32; i, row = i+1, row<<1 {
		op[i] = row
	}
	op = op.square() // 2 bits
	op = op.square() // 4 bits
	op = op.square() // one byte
	var acc gf2Matrix
	for i := range acc {
		acc[i] = 1 << i // identity
	}
	for ; n > 0; n >>= 1 {
		if n&1 != 0 {
			var next gf2Matrix
			for i := range next {
				next[i] = op.times(acc[i])
			}
			acc = next
		}
		op = op.square()
	}
	return acc
}

// combineBlocks is the CRC32C of a chunk of whole blocks, from the CRC32C
// of each block.
func (s *Store) combineBlocks(blocks []uint32) uint32 {
	var crc uint32
	t := &s.blockShift
	for _, b := range blocks {
		crc = t[0][crc&0xff] ^ t[1][crc>>8&0xff] ^ t[2][crc>>16&0xff] ^ t[3][crc>>24] ^ b
	}
	return crc
}

// shiftTable is a gf2Matrix as four byte-indexed tables.
type shiftTable [4][256]uint32

func newBlockShift() shiftTable {
	m := crcShift(disk.BlockSize)
	var t shiftTable
	for k := range t {
		for b := range t[k] {
			t[k][b] = m.times(uint32(b) << (8 * k))
		}
	}
	return t
}
