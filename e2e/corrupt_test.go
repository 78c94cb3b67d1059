package e2e

import (
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

const block = 4096

// corruptDisk overwrites 16 random bytes inside every 4 KiB block that holds
// data (is not all zeros) between the superblock areas of a disk file, and
// returns how many blocks it changed. Holes of a sparse file are skipped.
func corruptDisk(t *testing.T, path string, r *rand.Rand) int {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := int64(superblockSpan), st.Size()-superblockSpan
	if hi <= lo {
		t.Fatalf("%s: %d bytes, too small for superblocks at both ends", path, st.Size())
	}
	buf := make([]byte, block)
	noise := make([]byte, 16)
	changed := 0
	for off := lo; off < hi; {
		start, end := dataExtent(f, off, hi)
		if start >= hi {
			break
		}
		start -= start % block
		if start < lo {
			start = lo
		}
		for b := start; b+block <= end && b+block <= hi; b += block {
			if _, err := f.ReadAt(buf, b); err != nil && err != io.EOF {
				t.Fatal(err)
			}
			if allZero(buf) {
				continue
			}
			at := b + int64(r.IntN(block-len(noise)))
			for i := range noise {
				noise[i] = byte(r.Uint32())
			}
			noise[0] = ^buf[at-b] // at least one byte surely differs
			if _, err := f.WriteAt(noise, at); err != nil {
				t.Fatal(err)
			}
			changed++
		}
		if end <= off {
			end = off + block
		}
		off = end
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	return changed
}

// dataExtent returns the next [start, end) range at or after off that may
// hold data, using SEEK_DATA/SEEK_HOLE; without them, all of [off, hi).
func dataExtent(f *os.File, off, hi int64) (int64, int64) {
	start, err := f.Seek(off, unix.SEEK_DATA)
	if err != nil {
		// ENXIO: no data after off. Other errors: no SEEK_DATA support.
		if st, serr := f.Stat(); serr == nil && off < st.Size() && !isENXIO(err) {
			return off, hi
		}
		return hi, hi
	}
	end, err := f.Seek(start, unix.SEEK_HOLE)
	if err != nil || end > hi {
		end = hi
	}
	return start, end
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func isENXIO(err error) bool { return errors.Is(err, unix.ENXIO) }
