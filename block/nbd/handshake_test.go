package nbd_test

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/wolke-cloud/wolke/block/nbd"
	"github.com/wolke-cloud/wolke/block/nbd/nbdtest"
)

func testExports() *nbdtest.Exports {
	x := nbdtest.NewExports()
	x.Add(nbd.ExportInfo{Name: "a", Description: "volume a"}, nbdtest.NewMem(1<<20))
	x.Add(nbd.ExportInfo{Name: "b"}, nbdtest.NewMem(2<<20))
	x.Add(nbd.ExportInfo{Name: "snap", ReadOnly: true}, nbdtest.NewMem(1<<20))
	x.Add(nbd.ExportInfo{Name: "multi", MultiConn: true}, nbdtest.NewMem(1<<20))
	return x
}

// TestOptions drives one connection through a scripted negotiation and
// checks every reply type.
func TestOptions(t *testing.T) {
	h := startServer(t, nbd.Config{}, testExports())
	c := dialRaw(t, h.addr)
	c.start()
	steps := []struct {
		name string
		opt  uint32
		data []byte
		want []uint32 // reply types in order
	}{
		{"unknown option", 42, []byte("xyz"), []uint32{rUnsup}},
		{"peek export is unsupported", 4, nil, []uint32{rUnsup}},
		{"extended headers are unsupported", 11, nil, []uint32{rUnsup}},
		{"list", oList, nil, []uint32{rServer, rServer, rServer, rServer, rAck}},
		{"list with data", oList, []byte{1}, []uint32{rInvalid}},
		{"starttls without TLS", oStartTLS, nil, []uint32{rUnsup}},
		{"info unknown", oInfo, infoData("nope"), []uint32{rUnknown}},
		{"go unknown", oGo, infoData("nope", iBlock), []uint32{rUnknown}},
		{"info short", oInfo, []byte{0, 0, 0, 9, 'a'}, []uint32{rInvalid}},
		{"info bad count", oInfo, cat(be32(1), []byte("a"), be16(2), be16(iName)), []uint32{rInvalid}},
		{"info", oInfo, infoData("a", iName, iDesc, iBlock), []uint32{rInfo, rInfo, rInfo, rInfo, rAck}},
		{"list meta before structured", oListMeta, metaData("a"), []uint32{rInvalid}},
		{"set meta before structured", oSetMeta, metaData("a", "base:allocation"), []uint32{rInvalid}},
		{"structured with data", oStructured, []byte{1}, []uint32{rInvalid}},
		{"structured", oStructured, nil, []uint32{rAck}},
		{"list meta all", oListMeta, metaData("a"), []uint32{rMeta, rAck}},
		{"list meta base wildcard", oListMeta, metaData("a", "base:"), []uint32{rMeta, rAck}},
		{"list meta foreign", oListMeta, metaData("a", "qemu:dirty-bitmap:x"), []uint32{rAck}},
		{"list meta no namespace", oListMeta, metaData("a", "allocation"), []uint32{rInvalid}},
		{"list meta unknown export", oListMeta, metaData("nope"), []uint32{rUnknown}},
		{"set meta garbage", oSetMeta, []byte{0, 0, 0, 1}, []uint32{rInvalid}},
		{"set meta wildcard selects none", oSetMeta, metaData("a", "base:"), []uint32{rAck}},
		{"set meta", oSetMeta, metaData("a", "x-foo:bar", "base:allocation"), []uint32{rMeta, rAck}},
	}
	for _, s := range steps {
		c.sendOpt(s.opt, s.data)
		got := c.replies()
		if len(got) != len(s.want) {
			t.Fatalf("%s: %d replies %+v, want types %#x", s.name, len(got), got, s.want)
		}
		for i, r := range got {
			if r.typ != s.want[i] || r.opt != s.opt {
				t.Errorf("%s: reply %d is opt %d type %#x, want opt %d type %#x (%q)",
					s.name, i, r.opt, r.typ, s.opt, s.want[i], r.data)
			}
		}
		switch s.name {
		case "list":
			var names []string
			for _, r := range got[:len(got)-1] {
				n := binary.BigEndian.Uint32(r.data)
				names = append(names, string(r.data[4:4+n])+"|"+string(r.data[4+n:]))
			}
			if j := strings.Join(names, ","); j != "a|volume a,b|,multi|,snap|" {
				t.Errorf("list: %s", j)
			}
		case "info":
			checkInfo(t, got[:len(got)-1])
		case "list meta all", "set meta":
			r := got[0]
			id, name := binary.BigEndian.Uint32(r.data), string(r.data[4:])
			if name != "base:allocation" || (s.opt == oSetMeta) != (id != 0) {
				t.Errorf("%s: context %d %q", s.name, id, name)
			}
		}
	}
	// The connection is still good after all the errors: abort cleanly.
	c.sendOpt(oAbort, nil)
	if r := c.optReply(); r.typ != rAck {
		t.Fatalf("abort: reply %#x", r.typ)
	}
	c.expectClosed()
	eventually(t, "aborted handshake metric", func() bool {
		return h.counter(t, "wolke_nbd_handshakes_total", "result", "aborted") == 1
	})
	if n := h.exports.Handles("a"); n != 0 {
		t.Errorf("%d handles of a left open", n)
	}
}

func checkInfo(t *testing.T, infos []optReply) {
	t.Helper()
	seen := map[uint16][]byte{}
	for _, r := range infos {
		seen[binary.BigEndian.Uint16(r.data)] = r.data[2:]
	}
	if e := seen[iExport]; len(e) != 10 || binary.BigEndian.Uint64(e) != 1<<20 ||
		binary.BigEndian.Uint16(e[8:]) != fWantCommon {
		t.Errorf("NBD_INFO_EXPORT %x", e)
	}
	if n := string(seen[iName]); n != "a" {
		t.Errorf("NBD_INFO_NAME %q", n)
	}
	if d := string(seen[iDesc]); d != "volume a" {
		t.Errorf("NBD_INFO_DESCRIPTION %q", d)
	}
	b := seen[iBlock]
	if len(b) != 12 || binary.BigEndian.Uint32(b) != 512 || binary.BigEndian.Uint32(b[4:]) != 4096 ||
		binary.BigEndian.Uint32(b[8:]) != 32<<20 {
		t.Errorf("NBD_INFO_BLOCK_SIZE %x", b)
	}
}

// TestExportFlags checks the transmission flags per export and config.
func TestExportFlags(t *testing.T) {
	cases := []struct {
		name   string
		cfg    nbd.Config
		export string
		size   uint64
		want   uint16
	}{
		{"plain", nbd.Config{}, "b", 2 << 20, fWantCommon},
		{"snapshot", nbd.Config{}, "snap", 1 << 20, fWantCommon | fReadOnly},
		{"multi-conn", nbd.Config{}, "multi", 1 << 20, fWantCommon | fMultiConn},
		{"read-only server", nbd.Config{ReadOnly: true}, "a", 1 << 20, fWantCommon | fReadOnly},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := startServer(t, tc.cfg, testExports())
			c := dialRaw(t, h.addr)
			c.start()
			size, flags := c.goExport(tc.export)
			if size != tc.size || flags != tc.want {
				t.Errorf("size %d flags %#x, want %d %#x", size, flags, tc.size, tc.want)
			}
		})
	}
}

// TestExportName covers the old way into transmission, with and without
// the 124 zero bytes.
func TestExportName(t *testing.T) {
	for _, noZeroes := range []bool{true, false} {
		h := startServer(t, nbd.Config{}, testExports())
		c := dialRaw(t, h.addr)
		c.greet()
		if noZeroes {
			c.write(be32(3))
		} else {
			c.write(be32(1))
		}
		c.sendOpt(oExportName, []byte("b"))
		p := c.readN(10)
		if binary.BigEndian.Uint64(p) != 2<<20 || binary.BigEndian.Uint16(p[8:]) != fWantCommon {
			t.Fatalf("export name reply %x", p)
		}
		if !noZeroes {
			if z := c.readN(124); strings.Trim(string(z), "\x00") != "" {
				t.Fatalf("padding not zero")
			}
		}
		c.request(0, cRead, 7, 0, 512, nil)
		if errno, cookie, data := c.simple(512); errno != 0 || cookie != 7 || len(data) != 512 {
			t.Fatalf("read after export name: errno %d cookie %d", errno, cookie)
		}
	}
}

// TestHandshakeRefused covers handshakes the server must end by closing.
func TestHandshakeRefused(t *testing.T) {
	cases := []struct {
		name string
		do   func(c *rawClient)
	}{
		{"unknown client flag", func(c *rawClient) { c.greet(); c.write(be32(1 | 8)) }},
		{"not fixed newstyle", func(c *rawClient) { c.greet(); c.write(be32(0)) }},
		{"bad option magic", func(c *rawClient) { c.start(); c.write(be64(1), be32(oList), be32(0)) }},
		{"export name unknown", func(c *rawClient) { c.start(); c.sendOpt(oExportName, []byte("nope")) }},
		{"oldstyle client speaks first", func(c *rawClient) { c.greet(); c.write(make([]byte, 128)) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := startServer(t, nbd.Config{}, testExports())
			c := dialRaw(t, h.addr)
			tc.do(c)
			c.expectClosed()
			eventually(t, "failed handshake metric", func() bool {
				return h.counter(t, "wolke_nbd_handshakes_total", "result", "failed") == 1
			})
		})
	}
}

// TestHandshakeCutShort: a client that goes away mid-handshake is logged
// and cleaned up (no connection, no export handle left).
func TestHandshakeCutShort(t *testing.T) {
	cases := []struct {
		name string
		do   func(c *rawClient)
	}{
		{"before client flags", func(c *rawClient) { c.greet() }},
		{"inside client flags", func(c *rawClient) { c.greet(); c.write([]byte{0, 0}) }},
		{"inside option header", func(c *rawClient) { c.start(); c.write(be64(wIHAVEOPT), be32(oGo)) }},
		{"inside option data", func(c *rawClient) {
			c.start()
			c.write(be64(wIHAVEOPT), be32(oGo), be32(100), []byte("abc"))
		}},
		{"after info", func(c *rawClient) {
			c.start()
			c.sendOpt(oInfo, infoData("a"))
			c.replies()
		}},
		{"abort without waiting", func(c *rawClient) { c.start(); c.sendOpt(oAbort, nil) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := startServer(t, nbd.Config{}, testExports())
			c := dialRaw(t, h.addr)
			tc.do(c)
			c.conn.Close()
			eventually(t, "aborted handshake metric", func() bool {
				return h.counter(t, "wolke_nbd_handshakes_total", "result", "aborted") == 1
			})
			eventually(t, "connection gauge back to 0", func() bool {
				return h.counter(t, "wolke_nbd_connections") == 0
			})
			if n := h.exports.Handles("a"); n != 0 {
				t.Errorf("%d export handles left open", n)
			}
			if tc.name != "abort without waiting" && !strings.Contains(h.logs.String(), "nbd handshake cut short") {
				t.Errorf("no log of the cut handshake:\n%s", h.logs)
			}
		})
	}
}

// TestOptionTooLong: oversized option data is skipped and answered.
func TestOptionTooLong(t *testing.T) {
	h := startServer(t, nbd.Config{}, testExports())
	c := dialRaw(t, h.addr)
	c.start()
	c.sendOpt(oInfo, make([]byte, 65<<10))
	if r := c.optReply(); r.typ != rTooBig {
		t.Fatalf("reply %#x, want NBD_REP_ERR_TOO_BIG", r.typ)
	}
	if size, _ := c.goExport("a"); size != 1<<20 {
		t.Fatalf("size %d", size)
	}
}

// TestSecondWriter: an export has one writer unless it is multi-conn.
func TestSecondWriter(t *testing.T) {
	h := startServer(t, nbd.Config{}, testExports())
	first := dialRaw(t, h.addr)
	first.start()
	first.goExport("a")

	second := dialRaw(t, h.addr)
	second.start()
	second.sendOpt(oGo, infoData("a"))
	if r := second.replies(); r[len(r)-1].typ != rPolicy {
		t.Fatalf("second writer: reply %#x, want NBD_REP_ERR_POLICY", r[len(r)-1].typ)
	}
	// INFO does not claim the writer slot and still answers.
	second.sendOpt(oInfo, infoData("a"))
	if r := second.replies(); r[len(r)-1].typ != rAck {
		t.Fatalf("info while written: reply %#x", r[len(r)-1].typ)
	}
	for range 2 {
		m := dialRaw(t, h.addr)
		m.start()
		m.goExport("multi")
	}
	first.request(0, cDisc, 0, 0, 0, nil)
	first.expectClosed()
	eventually(t, "writer released", func() bool { return h.exports.Handles("a") == 0 })
	second.goExport("a")
}
