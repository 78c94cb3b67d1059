package nbd_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"sync/atomic"
	"testing"

	"github.com/wolke-cloud/wolke/block/nbd"
	"github.com/wolke-cloud/wolke/block/nbd/nbdtest"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// hookExport runs hook before each call of the wrapped export; a non-nil
// result fails the call.
type hookExport struct {
	nbd.Export
	hook func(ctx context.Context, op string, off int64) error
}

func (h *hookExport) ReadAt(ctx context.Context, p []byte, off int64) error {
	if err := h.hook(ctx, "read", off); err != nil {
		return err
	}
	return h.Export.ReadAt(ctx, p, off)
}

func (h *hookExport) WriteAt(ctx context.Context, p []byte, off int64, fua bool) error {
	op := "write"
	if fua {
		op = "write-fua"
	}
	if err := h.hook(ctx, op, off); err != nil {
		return err
	}
	return h.Export.WriteAt(ctx, p, off, fua)
}

func (h *hookExport) Flush(ctx context.Context) error {
	if err := h.hook(ctx, "flush", 0); err != nil {
		return err
	}
	return h.Export.Flush(ctx)
}

func (h *hookExport) BlockStatus(ctx context.Context, off, n int64) ([]nbd.Extent, error) {
	if err := h.hook(ctx, "status", off); err != nil {
		return nil, err
	}
	return h.Export.BlockStatus(ctx, off, n)
}

// faultExports serves "v" (1 MiB) whose reads at 64 KiB are corrupt,
// writes at 128 KiB find no space and flushes are unavailable. It counts
// the writes that asked for FUA.
func faultExports() (*nbdtest.Exports, *nbdtest.Mem, *atomic.Int32) {
	mem := nbdtest.NewMem(1 << 20)
	x := nbdtest.NewExports()
	fua := new(atomic.Int32)
	x.Add(nbd.ExportInfo{Name: "v"}, &hookExport{Export: mem, hook: func(_ context.Context, op string, off int64) error {
		switch {
		case op == "write-fua":
			fua.Add(1)
		case op == "read" && off == 64<<10:
			return errs.E("test", errs.Corrupt, "bad checksum")
		case op == "write" && off == 128<<10:
			return errs.E("test", errs.NoSpace)
		case op == "write" && off == 192<<10:
			return errs.E("test", errs.Permission)
		case op == "flush":
			return errs.E("test", errs.Unavailable)
		}
		return nil
	}})
	return x, mem, fua
}

// TestSimpleReplies runs requests without structured replies and checks
// each errno, then that refused requests changed nothing.
func TestSimpleReplies(t *testing.T) {
	x, mem, fua := faultExports()
	h := startServer(t, nbd.Config{MaxPayload: 64 << 10}, x)
	c := dialRaw(t, h.addr)
	c.start()
	c.goExport("v")
	ctx := context.Background()
	pattern := bytes.Repeat([]byte{0xab}, 4096)
	if err := mem.WriteAt(ctx, pattern, 1<<20-4096, false); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		flags   uint16
		typ     uint16
		off     uint64
		length  uint32
		payload []byte
		errno   uint32
	}{
		{"write", 0, cWrite, 0, 4096, bytes.Repeat([]byte{1}, 4096), 0},
		{"write fua", cfFUA, cWrite, 4096, 512, bytes.Repeat([]byte{2}, 512), 0},
		{"read", 0, cRead, 0, 4096, nil, 0},
		{"read past end", 0, cRead, 1<<20 - 512, 1024, nil, eINVAL},
		{"read offset past end", 0, cRead, 2 << 20, 512, nil, eINVAL},
		{"read offset overflow", 0, cRead, 1<<64 - 512, 1024, nil, eINVAL},
		{"write past end", 0, cWrite, 1<<20 - 512, 1024, make([]byte, 1024), eNOSPC},
		{"zeroes past end", 0, cZeroes, 1<<20 - 512, 1024, nil, eNOSPC},
		{"trim past end", 0, cTrim, 1<<20 - 512, 1024, nil, eINVAL},
		{"misaligned read", 0, cRead, 100, 512, nil, eINVAL},
		{"misaligned write", 0, cWrite, 1<<20 - 4096, 100, make([]byte, 100), eINVAL},
		{"misaligned trim", 0, cTrim, 1<<20 - 4096, 1000, nil, eINVAL},
		{"read too large", 0, cRead, 0, 128 << 10, nil, eINVAL},
		{"write too large", 0, cWrite, 1<<20 - (128 << 10), 128 << 10, make([]byte, 128<<10), eINVAL},
		{"zeroes too large", 0, cZeroes, 0, 128 << 10, nil, eINVAL},
		{"cache", 0, cCache, 0, 4096, nil, 0},
		{"block status without context", 0, cStatus, 0, 4096, nil, eINVAL},
		{"unknown command", 0, 99, 0, 0, nil, eINVAL},
		{"resize unsupported", 0, cResize, 0, 0, nil, eNOTSUP},
		{"df without structured", cfDF, cRead, 0, 512, nil, eINVAL},
		{"no-hole on write", cfNoHole, cWrite, 1<<20 - 4096, 512, make([]byte, 512), eINVAL},
		{"unknown flag", 1 << 9, cFlush, 0, 0, nil, eINVAL},
		{"flush with fua", cfFUA, cFlush, 0, 0, nil, eIO},
		{"corrupt read", 0, cRead, 64 << 10, 512, nil, eIO},
		{"no space", 0, cWrite, 128 << 10, 512, make([]byte, 512), eNOSPC},
		{"permission", 0, cWrite, 192 << 10, 512, make([]byte, 512), ePERM},
		{"trim", cfFUA, cTrim, 256 << 10, 64 << 10, nil, eIO}, // FUA flush fails
		{"zeroes", cfNoHole, cZeroes, 512 << 10, 4096, nil, 0},
		{"zeroes fua", cfFUA, cZeroes, 512 << 10, 4096, nil, eIO}, // FUA flush fails
		{"zero length read", 0, cRead, 0, 0, nil, 0},
		{"zero length trim", 0, cTrim, 4096, 0, nil, 0},
		{"zero length zeroes", 0, cZeroes, 4096, 0, nil, 0},
		{"zero length write", 0, cWrite, 4096, 0, nil, 0},
	}
	for i, s := range steps {
		c.request(s.flags, s.typ, uint64(i), s.off, s.length, s.payload)
		dataLen := 0
		if s.typ == cRead {
			dataLen = int(s.length)
		}
		errno, cookie, data := c.simple(dataLen)
		if errno != s.errno || cookie != uint64(i) {
			t.Errorf("%s: errno %d cookie %d, want %d %d", s.name, errno, cookie, s.errno, i)
		}
		if s.name == "read" && !bytes.Equal(data, bytes.Repeat([]byte{1}, 4096)) {
			t.Errorf("read: wrong data")
		}
	}
	// Nothing refused touched the data at the end of the export.
	got := make([]byte, 4096)
	if err := mem.ReadAt(ctx, got, 1<<20-4096); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, pattern) {
		t.Errorf("refused requests changed the export")
	}
	if err := mem.ReadAt(ctx, got[:512], 4096); err != nil || !bytes.Equal(got[:512], bytes.Repeat([]byte{2}, 512)) {
		t.Errorf("fua write not stored")
	}
	if n := fua.Load(); n != 1 {
		t.Errorf("%d writes reached the export with FUA, want 1", n)
	}
	if n := h.counter(t, "wolke_nbd_errors_total", "errno", "EINVAL"); n != 15 {
		t.Errorf("EINVAL count %v, want 15", n)
	}
	if n := h.counter(t, "wolke_nbd_requests_total", "command", "write"); n != 9 {
		t.Errorf("write count %v, want 9", n)
	}
	c.request(0, cDisc, 0, 0, 0, nil)
	c.expectClosed()
}

func TestReadOnly(t *testing.T) {
	h := startServer(t, nbd.Config{ReadOnly: true}, testExports())
	c := dialRaw(t, h.addr)
	c.start()
	c.goExport("a")
	for i, typ := range []uint16{cWrite, cTrim, cZeroes} {
		var payload []byte
		if typ == cWrite {
			payload = make([]byte, 512)
		}
		c.request(0, typ, uint64(i), 0, 512, payload)
		if errno, _, _ := c.simple(0); errno != ePERM {
			t.Errorf("command %d: errno %d, want EPERM", typ, errno)
		}
	}
	c.request(0, cFlush, 9, 0, 0, nil)
	if errno, _, _ := c.simple(0); errno != 0 {
		t.Errorf("flush on read-only: errno %d", errno)
	}
}

// structuredConn negotiates structured replies and base:allocation.
func structuredConn(t *testing.T, h *harness, name string) *rawClient {
	c := dialRaw(t, h.addr)
	c.start()
	c.sendOpt(oStructured, nil)
	c.replies()
	c.sendOpt(oSetMeta, metaData(name, "base:allocation"))
	if r := c.replies(); len(r) != 2 || r[0].typ != rMeta {
		t.Fatalf("set meta: %+v", r)
	}
	c.goExport(name)
	return c
}

func TestStructuredReplies(t *testing.T) {
	x, mem, _ := faultExports()
	h := startServer(t, nbd.Config{}, x)
	c := structuredConn(t, h, "v")
	ctx := context.Background()
	if err := mem.WriteAt(ctx, bytes.Repeat([]byte{9}, 8192), 8192, false); err != nil {
		t.Fatal(err)
	}

	c.request(0, cRead, 1, 8192, 8192, nil)
	k := c.chunk()
	if k.typ != stOffsetData || k.flags != stDone || k.cookie != 1 ||
		binary.BigEndian.Uint64(k.payload) != 8192 || !bytes.Equal(k.payload[8:], bytes.Repeat([]byte{9}, 8192)) {
		t.Errorf("read chunk %+v", k.typ)
	}

	c.request(0, cRead, 2, 64<<10, 512, nil)
	k = c.chunk()
	if k.typ != stErrorOffset || k.flags != stDone || binary.BigEndian.Uint32(k.payload) != eIO {
		t.Errorf("corrupt read: chunk type %#x payload %x", k.typ, k.payload)
	}
	ml := int(binary.BigEndian.Uint16(k.payload[4:]))
	if off := binary.BigEndian.Uint64(k.payload[6+ml:]); off != 64<<10 {
		t.Errorf("error offset %d", off)
	}

	c.request(0, cRead, 3, 1<<20, 512, nil)
	k = c.chunk()
	if k.typ != stError || binary.BigEndian.Uint32(k.payload) != eINVAL {
		t.Errorf("read past end: chunk type %#x payload %x", k.typ, k.payload)
	}

	// Writes still get simple replies.
	c.request(0, cWrite, 4, 0, 512, make([]byte, 512))
	if errno, cookie, _ := c.simple(0); errno != 0 || cookie != 4 {
		t.Errorf("write: errno %d cookie %d", errno, cookie)
	}

	status := func(flags uint16, off uint64, n uint32) []uint32 {
		t.Helper()
		c.request(flags, cStatus, 5, off, n, nil)
		k := c.chunk()
		if k.typ != stBlockStatus || k.flags != stDone || binary.BigEndian.Uint32(k.payload) == 0 {
			t.Fatalf("block status chunk type %#x flags %d", k.typ, k.flags)
		}
		var d []uint32
		for p := k.payload[4:]; len(p) >= 4; p = p[4:] {
			d = append(d, binary.BigEndian.Uint32(p))
		}
		return d
	}
	// Pages: 0 written (zeroes), 1 hole, 2-3 data, rest holes.
	cases := []struct {
		name  string
		flags uint16
		off   uint64
		n     uint32
		want  []uint32
	}{
		{"whole", 0, 0, 1 << 20, []uint32{4096, 2, 4096, 3, 8192, 0, 1<<20 - 16384, 3}},
		{"req one", cfReqOne, 0, 1 << 20, []uint32{4096, 2}},
		{"clipped", 0, 8192, 512, []uint32{512, 0}},
		{"unaligned length", 0, 12288, 5000, []uint32{4096, 0, 904, 3}},
	}
	for _, tc := range cases {
		if got := status(tc.flags, tc.off, tc.n); !equalU32(got, tc.want) {
			t.Errorf("%s: descriptors %v, want %v", tc.name, got, tc.want)
		}
	}
	c.request(0, cStatus, 6, 1<<20-512, 1024, nil)
	if k := c.chunk(); k.typ != stError || binary.BigEndian.Uint32(k.payload) != eINVAL {
		t.Errorf("block status past end: %#x", k.typ)
	}
}

func equalU32(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestMetaContextOtherExport: contexts chosen for one export do not carry
// over to another.
func TestMetaContextOtherExport(t *testing.T) {
	h := startServer(t, nbd.Config{}, testExports())
	c := dialRaw(t, h.addr)
	c.start()
	c.sendOpt(oStructured, nil)
	c.replies()
	c.sendOpt(oSetMeta, metaData("a", "base:allocation"))
	c.replies()
	c.goExport("b")
	c.request(0, cStatus, 1, 0, 4096, nil)
	if k := c.chunk(); k.typ != stError || binary.BigEndian.Uint32(k.payload) != eINVAL {
		t.Errorf("block status on another export: chunk %#x", k.typ)
	}
}
