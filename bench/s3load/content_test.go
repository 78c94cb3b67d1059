package s3load

import (
	"bytes"
	"hash/crc32"
	"io"
	"testing"
)

func readAllChunks(t *testing.T, r io.Reader, chunk int) []byte {
	t.Helper()
	var out []byte
	buf := make([]byte, chunk)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestContentDeterministicAndSeekable(t *testing.T) {
	table := crc32.MakeTable(crc32.Castagnoli)
	for _, size := range []int64{1, 7, contentBlock - 1, contentBlock, 3*contentBlock + 5} {
		whole := readAllChunks(t, newContent("k", size, table), 1<<20)
		if int64(len(whole)) != size {
			t.Fatalf("size %d: read %d bytes", size, len(whole))
		}
		for _, chunk := range []int{1, 13, 4096, contentBlock + 3} {
			c := newContent("k", size, table)
			if got := readAllChunks(t, c, chunk); !bytes.Equal(got, whole) {
				t.Errorf("size %d chunk %d: content differs between reads", size, chunk)
			}
			if !c.complete() || c.sum() != crc32.Checksum(whole, table) {
				t.Errorf("size %d chunk %d: running checksum wrong", size, chunk)
			}
		}
		// Read half, rewind, read all: the checksum is still of the object.
		c := newContent("k", size, table)
		io.CopyN(io.Discard, c, size/2)
		if _, err := c.Seek(0, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		if got := readAllChunks(t, c, 1000); !bytes.Equal(got, whole) || c.sum() != crc32.Checksum(whole, table) {
			t.Errorf("size %d: rewind changed the content or its checksum", size)
		}
		if checksum("k", size, table) != crc32.Checksum(whole, table) {
			t.Errorf("size %d: checksum() disagrees", size)
		}
	}
	a := readAllChunks(t, newContent("a", 1000, table), 1000)
	b := readAllChunks(t, newContent("b", 1000, table), 1000)
	if bytes.Equal(a, b) {
		t.Error("different keys produce the same content")
	}
}

func TestContentWindows(t *testing.T) {
	table := crc32.MakeTable(crc32.Castagnoli)
	const size, part = 250_000, 100_000
	whole := readAllChunks(t, newContent("obj", size, table), 1<<20)
	var joined []byte
	c := newContent("obj", size, table)
	for off := int64(0); off < size; off += part {
		c.window(off, part)
		if want := min(int64(part), size-off); c.Len() != want {
			t.Errorf("window at %d: Len %d, want %d", off, c.Len(), want)
		}
		if n, _ := c.Seek(0, io.SeekEnd); n != c.Len() {
			t.Errorf("window at %d: SeekEnd %d", off, n)
		}
		c.Seek(0, io.SeekStart)
		joined = append(joined, readAllChunks(t, c, 7777)...)
	}
	if !bytes.Equal(joined, whole) || c.sum() != crc32.Checksum(whole, table) {
		t.Error("windows do not add up to the object")
	}
	if _, err := c.Seek(-1, io.SeekStart); err == nil {
		t.Error("seek before the window accepted")
	}
}
