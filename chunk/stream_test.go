package chunk_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/wolke-cloud/wolke/chunk"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// TestStreamConcurrent: many goroutines patch, read and sync over the
// client's streams to one server at once; every answer reaches its
// caller (right generation, right bytes). Run with -race.
func TestStreamConcurrent(t *testing.T) {
	h := start(t, chunk.Config{ID: "s1", Zone: "z1", ClusterID: cluster, Disks: diskConfigs(t.TempDir(), 1)})
	ctx := context.Background()
	d := h.srv.Disks()[0].ID
	const workers, rounds = 12, 30
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			id := fmt.Sprintf("c%d", w)
			want := bytes.Repeat([]byte{byte(w)}, 64<<10)
			if err := h.cli.WriteShard(ctx, d, id, want); err != nil {
				errc <- err
				return
			}
			for i := range rounds {
				off := int64((i*7+w)%16) * 4096
				p := bytes.Repeat([]byte{byte(w*rounds + i)}, 4096)
				gen, epoch, err := h.cli.PatchShardNoSync(ctx, d, id, off, p, uint64(i))
				if err != nil || gen != uint64(i+1) || epoch == 0 {
					errc <- fmt.Errorf("%s patch %d: gen %d epoch %d: %v", id, i, gen, epoch, err)
					return
				}
				copy(want[off:], p)
				got, g, err := h.cli.ReadShardRangeGen(ctx, d, id, 0, int64(len(want)))
				if i%2 == 1 { // the same into a buffer of the caller's (pooled answer frames)
					got = make([]byte, len(want))
					g, err = h.cli.ReadShardRangeInto(ctx, d, id, 0, got)
				}
				if err != nil || g != gen || !bytes.Equal(got, want) {
					errc <- fmt.Errorf("%s read %d: gen %d want %d, equal %v: %v", id, i, g, gen, bytes.Equal(got, want), err)
					return
				}
				if i%10 == 9 {
					if e2, err := h.cli.SyncDisk(ctx, d); err != nil || e2 != epoch {
						errc <- fmt.Errorf("sync: epoch %d want %d: %v", e2, epoch, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	// Errors come back in the server's kinds.
	if _, _, err := h.cli.PatchShardNoSync(ctx, d, "c0", 0, make([]byte, 4096), 0); !errs.Is(err, errs.Precondition) {
		t.Errorf("stale base over the stream: %v, want Precondition", err)
	}
	if _, _, err := h.cli.ReadShardRangeGen(ctx, d, "nope", 0, 4096); !errs.Is(err, errs.NotFound) {
		t.Errorf("missing chunk over the stream: %v, want NotFound", err)
	}
	if _, err := h.cli.SyncDisk(ctx, "no-such-disk"); !errs.Is(err, errs.NotFound) {
		t.Errorf("sync of an unknown disk: %v, want NotFound", err)
	}
}

// TestStreamUpgrade: the server switches protocols on GET /v1/stream
// and answers frames; pipelined requests are answered by id.
func TestStreamUpgrade(t *testing.T) {
	h := start(t, chunk.Config{ID: "s1", Zone: "z1", ClusterID: cluster, Disks: diskConfigs(t.TempDir(), 1)})
	d := h.srv.Disks()[0].ID
	nc, br := upgrade(t, h.addr)
	// Two syncs, ids 7 and 9, in one write.
	var b []byte
	for _, id := range []uint64{7, 9} {
		body := binary.BigEndian.AppendUint16(nil, uint16(len(d)))
		body = append(body, d...)
		b = binary.BigEndian.AppendUint32(b, uint32(9+len(body)))
		b = append(b, 3)
		b = binary.BigEndian.AppendUint64(b, id)
		b = append(b, body...)
	}
	if _, err := nc.Write(b); err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for range 2 {
		var hdr [13]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			t.Fatal(err)
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if hdr[4] != 0 || n != 9+8 {
			t.Fatalf("answer status %d length %d", hdr[4], n)
		}
		seen[binary.BigEndian.Uint64(hdr[5:])] = true
		if _, err := io.ReadFull(br, make([]byte, 8)); err != nil {
			t.Fatal(err)
		}
	}
	if !seen[7] || !seen[9] {
		t.Fatalf("answered ids %v, want 7 and 9", seen)
	}
}

// TestStreamFallback: against a server without the stream (the upgrade
// is refused), the client does the same over HTTP.
func TestStreamFallback(t *testing.T) {
	h := start(t, chunk.Config{ID: "s1", Zone: "z1", ClusterID: cluster, Disks: diskConfigs(t.TempDir(), 1)})
	ctx := context.Background()
	d := h.srv.Disks()[0].ID
	cli, refusals := noStreamClient(t, h)
	if err := cli.WriteShard(ctx, d, "x", make([]byte, 8192)); err != nil {
		t.Fatal(err)
	}
	p := bytes.Repeat([]byte{5}, 4096)
	gen, epoch, err := cli.PatchShardNoSync(ctx, d, "x", 4096, p, 0)
	if err != nil || gen != 1 || epoch == 0 {
		t.Fatalf("patch over HTTP: gen %d epoch %d: %v", gen, epoch, err)
	}
	got, g, err := cli.ReadShardRangeGen(ctx, d, "x", 4096, 4096)
	if err != nil || g != 1 || !bytes.Equal(got, p) {
		t.Fatalf("read over HTTP: gen %d: %v", g, err)
	}
	if e, err := cli.SyncDisk(ctx, d); err != nil || e != epoch {
		t.Fatalf("sync over HTTP: epoch %d want %d: %v", e, epoch, err)
	}
	if refused := refusals(); refused != 1 {
		t.Fatalf("%d upgrade attempts, want 1 (a refusal is remembered)", refused)
	}
}
