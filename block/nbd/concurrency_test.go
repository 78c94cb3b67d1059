package nbd_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/block/nbd"
	"github.com/wolke-cloud/wolke/block/nbd/nbdtest"
)

// gateExports serves "g" (1 MiB): reads below 4 KiB wait for release (or
// for their context to end).
func gateExports() (*nbdtest.Exports, *nbdtest.Mem, chan struct{}) {
	mem := nbdtest.NewMem(1 << 20)
	release := make(chan struct{})
	x := nbdtest.NewExports()
	x.Add(nbd.ExportInfo{Name: "g"}, &hookExport{Export: mem, hook: gateReads(release)})
	return x, mem, release
}

// gateReads is a hook that holds reads below 4 KiB until release is
// closed (or their context ends).
func gateReads(release chan struct{}) func(ctx context.Context, op string, off int64) error {
	return func(ctx context.Context, op string, off int64) error {
		if op == "read" && off < 4096 {
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
}

// TestPipelined: requests run concurrently and replies come back as they
// finish, not in request order.
func TestPipelined(t *testing.T) {
	x, _, release := gateExports()
	h := startServer(t, nbd.Config{}, x)
	c := dialRaw(t, h.addr)
	c.start()
	c.goExport("g")
	c.request(0, cRead, 1, 0, 512, nil) // blocks
	c.request(0, cWrite, 2, 8192, 512, bytes.Repeat([]byte{5}, 512))
	c.request(0, cRead, 3, 8192, 512, nil)
	var order []uint64
	for range 2 {
		errno, cookie, data := c.simple(0)
		if errno != 0 {
			t.Fatalf("cookie %d: errno %d", cookie, errno)
		}
		if cookie == 3 {
			// The write and this read raced; either content is valid.
			data = c.readN(512)
			if !bytes.Equal(data, make([]byte, 512)) && !bytes.Equal(data, bytes.Repeat([]byte{5}, 512)) {
				t.Errorf("read 3: torn data")
			}
		}
		order = append(order, cookie)
	}
	eventually(t, "one request in flight", func() bool { return h.counter(t, "wolke_nbd_inflight_requests") == 1 })
	close(release)
	if errno, cookie, _ := c.simple(512); errno != 0 || cookie != 1 {
		t.Fatalf("blocked read: errno %d cookie %d", errno, cookie)
	}
	if order[0] == 1 || order[1] == 1 {
		t.Errorf("reply order %v: the blocked read came first", order)
	}
}

// TestSlowInlineRead: a READ alone on an idle connection runs on the
// reader, but one that takes long holds up no request sent after it.
func TestSlowInlineRead(t *testing.T) {
	x, _, release := gateExports()
	h := startServer(t, nbd.Config{}, x)
	c := dialRaw(t, h.addr)
	c.start()
	c.goExport("g")
	for cookie := range uint64(3) { // quick READs, one at a time
		c.request(0, cRead, cookie, 8192, 512, nil)
		if errno, got, _ := c.simple(512); errno != 0 || got != cookie {
			t.Fatalf("read %d: errno %d cookie %d", cookie, errno, got)
		}
	}
	c.request(0, cRead, 10, 0, 512, nil) // blocks
	eventually(t, "the blocked read in flight", func() bool { return h.counter(t, "wolke_nbd_inflight_requests") == 1 })
	c.request(0, cRead, 11, 8192, 512, nil)
	c.request(0, cWrite, 12, 16384, 512, bytes.Repeat([]byte{5}, 512))
	seen := map[uint64]bool{}
	for range 2 {
		errno, cookie, _ := c.simple(0)
		if errno != 0 || (cookie != 11 && cookie != 12) {
			t.Fatalf("behind the blocked read: errno %d cookie %d, want 11 or 12", errno, cookie)
		}
		if cookie == 11 {
			c.readN(512)
		}
		seen[cookie] = true
	}
	if len(seen) != 2 {
		t.Fatalf("replies %v, want 11 and 12", seen)
	}
	close(release)
	if errno, cookie, _ := c.simple(512); errno != 0 || cookie != 10 {
		t.Fatalf("blocked read: errno %d cookie %d", errno, cookie)
	}
	c.request(0, cRead, 13, 0, 512, nil)
	if errno, cookie, _ := c.simple(512); errno != 0 || cookie != 13 {
		t.Fatalf("read after the hand-over: errno %d cookie %d", errno, cookie)
	}
}

// TestWorkerBound: a connection runs at most Config.Workers requests.
func TestWorkerBound(t *testing.T) {
	x, mem, release := gateExports()
	h := startServer(t, nbd.Config{Workers: 2}, x)
	c := dialRaw(t, h.addr)
	c.start()
	c.goExport("g")
	c.request(0, cRead, 1, 0, 512, nil)
	c.request(0, cRead, 2, 512, 512, nil)
	c.request(0, cWrite, 3, 8192, 512, bytes.Repeat([]byte{5}, 512))
	eventually(t, "three requests read", func() bool {
		return h.counter(t, "wolke_nbd_requests_total") == 3
	})
	time.Sleep(50 * time.Millisecond)
	got := make([]byte, 512)
	if err := mem.ReadAt(context.Background(), got, 8192); err != nil {
		t.Fatal(err)
	}
	if g := h.counter(t, "wolke_nbd_inflight_requests"); g != 2 || !bytes.Equal(got, make([]byte, 512)) {
		t.Fatalf("in flight %v (want 2), write ran early: %v", g, got[0] != 0)
	}
	close(release)
	seen := map[uint64]bool{}
	for range 3 {
		n := 0
		errno, cookie, _ := c.simple(0)
		if cookie != 3 {
			n = 512
		}
		if errno != 0 {
			t.Fatalf("cookie %d: errno %d", cookie, errno)
		}
		c.readN(n)
		seen[cookie] = true
	}
	if len(seen) != 3 {
		t.Fatalf("replies %v", seen)
	}
}

// TestGracefulStop: on ctx done the server stops accepting, answers new
// requests with ESHUTDOWN, finishes the request in flight, ends option
// haggling with NBD_REP_ERR_SHUTDOWN and closes idle connections after
// the grace period.
func TestGracefulStop(t *testing.T) {
	x, _, release := gateExports()
	x.Add(nbd.ExportInfo{Name: "idle"}, nbdtest.NewMem(1<<20))
	// The grace must outlast the test's own steps between the stop and its
	// request after it: on a loaded machine 300 ms did not (the request
	// reached the server after reading had ended, and got no answer).
	h := startServer(t, nbd.Config{ShutdownGrace: 2 * time.Second}, x)
	busy := dialRaw(t, h.addr)
	busy.start()
	busy.goExport("g")
	haggling := dialRaw(t, h.addr)
	haggling.start()
	idle := dialRaw(t, h.addr)
	idle.start()
	idle.goExport("idle")

	busy.request(0, cRead, 1, 0, 512, nil)
	eventually(t, "request in flight", func() bool { return h.counter(t, "wolke_nbd_inflight_requests") == 1 })
	h.stop(t)

	busy.request(0, cRead, 2, 8192, 512, nil)
	if errno, cookie, _ := busy.simple(0); errno != eSHUTDOWN || cookie != 2 {
		t.Fatalf("request after stop: errno %d cookie %d, want ESHUTDOWN", errno, cookie)
	}
	haggling.sendOpt(oList, nil)
	if r := haggling.optReply(); r.typ != rShutdown {
		t.Fatalf("option after stop: reply %#x, want NBD_REP_ERR_SHUTDOWN", r.typ)
	}
	haggling.expectClosed()
	idle.expectClosed()

	close(release)
	if errno, cookie, _ := busy.simple(512); errno != 0 || cookie != 1 {
		t.Fatalf("in-flight read: errno %d cookie %d", errno, cookie)
	}
	busy.request(0, cDisc, 3, 0, 0, nil)
	busy.expectClosed()
	select {
	case err := <-h.done:
		h.done <- err // for the cleanup
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	if n := h.exports.Handles("g") + h.exports.Handles("idle"); n != 0 {
		t.Errorf("%d export handles left open", n)
	}
}

// TestClose: Close ends everything at once and cancels backend calls.
func TestClose(t *testing.T) {
	x, _, _ := gateExports()
	h := startServer(t, nbd.Config{}, x)
	c := dialRaw(t, h.addr)
	c.start()
	c.goExport("g")
	c.request(0, cRead, 1, 0, 512, nil)
	eventually(t, "request in flight", func() bool { return h.counter(t, "wolke_nbd_inflight_requests") == 1 })
	if err := h.srv.Close(); err != nil {
		t.Fatal(err)
	}
	c.expectClosed()
	select {
	case err := <-h.done:
		h.done <- err
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after Close")
	}
	eventually(t, "export released", func() bool { return h.exports.Handles("g") == 0 })
}

// TestDrainTimeout: a request that never finishes cannot hold a stopping
// server: after DrainTimeout its call is canceled and the connection closed.
func TestDrainTimeout(t *testing.T) {
	x, _, _ := gateExports()
	h := startServer(t, nbd.Config{ShutdownGrace: 50 * time.Millisecond, DrainTimeout: 200 * time.Millisecond}, x)
	c := dialRaw(t, h.addr)
	c.start()
	c.goExport("g")
	c.request(0, cRead, 1, 0, 512, nil)
	eventually(t, "request in flight", func() bool { return h.counter(t, "wolke_nbd_inflight_requests") == 1 })
	h.stop(t)
	c.expectClosed()
	select {
	case err := <-h.done:
		h.done <- err
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	if n := h.exports.Handles("g"); n != 0 {
		t.Errorf("%d export handles left open", n)
	}
}

// TestHandshakeTimeout: a client that stalls in the handshake is dropped.
func TestHandshakeTimeout(t *testing.T) {
	h := startServer(t, nbd.Config{HandshakeTimeout: 100 * time.Millisecond}, testExports())
	c := dialRaw(t, h.addr)
	c.start()
	c.expectClosed()
	eventually(t, "connection gauge back to 0", func() bool { return h.counter(t, "wolke_nbd_connections") == 0 })
}

// TestBufferBound: a connection holds at most MaxBufferBytes of request
// data; a read that would exceed it waits for earlier ones.
func TestBufferBound(t *testing.T) {
	x, _, release := gateExports()
	h := startServer(t, nbd.Config{MaxPayload: 64 << 10, MaxBufferBytes: 64 << 10}, x)
	c := dialRaw(t, h.addr)
	c.start()
	c.goExport("g")
	c.request(0, cRead, 1, 0, 64<<10, nil) // blocks, holding the whole budget
	c.request(0, cRead, 2, 8192, 512, nil) // waits for budget; so does reading
	c.request(0, cFlush, 3, 0, 0, nil)
	eventually(t, "two requests read", func() bool { return h.counter(t, "wolke_nbd_requests_total") == 2 })
	time.Sleep(50 * time.Millisecond)
	if g := h.counter(t, "wolke_nbd_inflight_requests"); g != 1 {
		t.Fatalf("in flight %v, want 1: the budget let a read through", g)
	}
	close(release)
	sizes := map[uint64]int{1: 64 << 10, 2: 512, 3: 0}
	for range 3 {
		errno, cookie, _ := c.simple(0)
		if errno != 0 {
			t.Fatalf("cookie %d: errno %d", cookie, errno)
		}
		c.readN(sizes[cookie])
		delete(sizes, cookie)
	}
	if len(sizes) != 0 {
		t.Fatalf("missing replies %v", sizes)
	}
}

// TestPipelinedSizes: with few workers, pipelined writes and reads of
// sizes on both sides of the server's direct-write threshold come back
// whole, each under its own cookie, and reused buffers leak nothing.
func TestPipelinedSizes(t *testing.T) {
	mem := nbdtest.NewMem(4 << 20)
	x := nbdtest.NewExports()
	x.Add(nbd.ExportInfo{Name: "v"}, mem)
	h := startServer(t, nbd.Config{Workers: 2}, x)
	c := dialRaw(t, h.addr)
	c.start()
	c.goExport("v")
	sizes := []int{512, 4096, 20 << 10, 64 << 10, 3 * 512, 128 << 10}
	var off uint64
	type region struct {
		off  uint64
		data []byte
	}
	var regions []region
	for i := range 3 * len(sizes) {
		n := sizes[i%len(sizes)]
		regions = append(regions, region{off, bytes.Repeat([]byte{byte(i + 1)}, n)})
		off += uint64(n) + 4096 // a gap that stays a hole
	}
	for i, r := range regions {
		c.request(0, cWrite, uint64(i), r.off, uint32(len(r.data)), r.data)
	}
	for range regions {
		if errno, cookie, _ := c.simple(0); errno != 0 {
			t.Fatalf("write %d: errno %d", cookie, errno)
		}
	}
	// Each read covers its region and the hole after it: the hole must
	// read as zeroes even from a buffer a previous read filled.
	for i, r := range regions {
		c.request(0, cRead, uint64(i), r.off, uint32(len(r.data)+4096), nil)
	}
	seen := map[uint64]bool{}
	for range regions {
		errno, cookie, _ := c.simple(0)
		if errno != 0 || cookie >= uint64(len(regions)) || seen[cookie] {
			t.Fatalf("read reply: errno %d cookie %d", errno, cookie)
		}
		seen[cookie] = true
		r := regions[cookie]
		got := c.readN(len(r.data) + 4096)
		if !bytes.Equal(got[:len(r.data)], r.data) || !bytes.Equal(got[len(r.data):], make([]byte, 4096)) {
			t.Fatalf("read %d (%d bytes): data differs", cookie, len(r.data))
		}
	}
}
