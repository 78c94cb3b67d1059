package e2e

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

// prngReader is a fast deterministic byte stream (PCG, ~2 GB/s): /dev/urandom
// would make the 1 GiB files the slowest part of the suite.
type prngReader struct {
	r   *rand.PCG
	buf [8]byte
	n   int // unread bytes left in buf
}

func newPRNG(seed uint64) *prngReader {
	return &prngReader{r: rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)}
}

func (p *prngReader) Read(b []byte) (int, error) {
	n := 0
	for n < len(b) && p.n > 0 {
		b[n] = p.buf[8-p.n]
		p.n--
		n++
	}
	for ; n+8 <= len(b); n += 8 {
		binary.LittleEndian.PutUint64(b[n:], p.r.Uint64())
	}
	if n < len(b) {
		binary.LittleEndian.PutUint64(p.buf[:], p.r.Uint64())
		p.n = 8
		for n < len(b) {
			b[n] = p.buf[8-p.n]
			p.n--
			n++
		}
	}
	return n, nil
}

// randomBytes returns size deterministic pseudo-random bytes for seed.
func randomBytes(size int, seed uint64) []byte {
	b := make([]byte, size)
	newPRNG(seed).Read(b)
	return b
}

// writeRandomFile writes size pseudo-random bytes to path and returns their
// sha256 (hex).
func writeRandomFile(t *testing.T, path string, size int64, seed uint64) string {
	t.Helper()
	start := time.Now()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	if _, err := io.CopyN(w, newPRNG(seed), size); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if size >= 64<<20 {
		t.Logf("wrote %s (%s) in %v", path, sizeName(size), time.Since(start).Round(time.Millisecond))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// fileSHA256 returns the sha256 (hex) of a file.
func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// fileSize returns the size of a file.
func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// sizeName prints 1048576 as "1MiB", 5 as "5B".
func sizeName(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "GiB"
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "KiB"
	}
	return strconv.FormatInt(n, 10) + "B"
}

// envInt reads a positive integer from the environment.
func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// mbps formats a transfer rate.
func mbps(n int64, d time.Duration) string {
	return strconv.FormatFloat(float64(n)/(1<<20)/d.Seconds(), 'f', 1, 64) + " MiB/s"
}

// smallSizes are the sizes every client round-trips besides the big file.
func smallSizes() []int64 { return []int64{0, 1, 100 << 10, 5 << 20, 20 << 20} }
