package coretest

import (
	"bytes"
	"context"
	"testing"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// ShardStore has the method set of core.Shards (declared here too, so that
// this package need not import core).
type ShardStore interface {
	WriteShard(ctx context.Context, diskID, chunkID string, data []byte) error
	ReadShard(ctx context.Context, diskID, chunkID string) ([]byte, error)
	DeleteShard(ctx context.Context, diskID, chunkID string) error
}

// RunShardsSuite checks the core.Shards contract on a fresh store from
// newStore, which must serve the two given disks. Every implementation (the
// fake here, the chunk client against real chunk servers) should pass it.
func RunShardsSuite(t *testing.T, newStore func(t *testing.T) ShardStore, diskA, diskB string) {
	ctx := context.Background()
	t.Run("round trip", func(t *testing.T) {
		s := newStore(t)
		data := []byte("shard bytes \x00\xff")
		if err := s.WriteShard(ctx, diskA, "00ff.0", data); err != nil {
			t.Fatal(err)
		}
		data[0] = 'X' // the store must not keep the caller's buffer
		got, err := s.ReadShard(ctx, diskA, "00ff.0")
		if err != nil || string(got) != "shard bytes \x00\xff" {
			t.Fatalf("ReadShard = %q, %v", got, err)
		}
		got[0] = 'Y' // nor hand out its own
		again, err := s.ReadShard(ctx, diskA, "00ff.0")
		if err != nil || again[0] != 's' {
			t.Fatalf("ReadShard after changing the result = %q, %v", again, err)
		}
	})
	t.Run("empty and large", func(t *testing.T) {
		s := newStore(t)
		big := bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7}, 300_000) // ~2 MiB, not block aligned
		for name, data := range map[string][]byte{"aa.1": {}, "aa.2": big} {
			if err := s.WriteShard(ctx, diskA, name, data); err != nil {
				t.Fatal(err)
			}
			got, err := s.ReadShard(ctx, diskA, name)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%s: read %d bytes, %v; wrote %d", name, len(got), err, len(data))
			}
		}
	})
	t.Run("missing", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.ReadShard(ctx, diskA, "beef.3"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("ReadShard of a missing chunk: %v, want not found", err)
		}
		if err := s.DeleteShard(ctx, diskA, "beef.3"); err != nil && !errs.Is(err, errs.NotFound) {
			t.Fatalf("DeleteShard of a missing chunk: %v", err)
		}
	})
	t.Run("delete", func(t *testing.T) {
		s := newStore(t)
		if err := s.WriteShard(ctx, diskA, "cafe.0", []byte("x")); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteShard(ctx, diskA, "cafe.0"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ReadShard(ctx, diskA, "cafe.0"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("ReadShard after delete: %v, want not found", err)
		}
	})
	t.Run("disks are separate", func(t *testing.T) {
		s := newStore(t)
		if err := s.WriteShard(ctx, diskA, "abcd.1", []byte("a")); err != nil {
			t.Fatal(err)
		}
		if err := s.WriteShard(ctx, diskB, "abcd.1", []byte("b")); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteShard(ctx, diskA, "abcd.1"); err != nil {
			t.Fatal(err)
		}
		if got, err := s.ReadShard(ctx, diskB, "abcd.1"); err != nil || string(got) != "b" {
			t.Fatalf("other disk: %q, %v", got, err)
		}
	})
	t.Run("overwrite", func(t *testing.T) {
		s := newStore(t)
		for _, v := range []string{"first", "second, longer"} {
			if err := s.WriteShard(ctx, diskA, "0101.4", []byte(v)); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := s.ReadShard(ctx, diskA, "0101.4"); err != nil || string(got) != "second, longer" {
			t.Fatalf("after overwrite: %q, %v", got, err)
		}
	})
	t.Run("canceled", func(t *testing.T) {
		s := newStore(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := s.WriteShard(cctx, diskA, "dead.0", []byte("x")); err == nil {
			t.Fatal("WriteShard with a canceled context succeeded")
		}
		if _, err := s.ReadShard(ctx, diskA, "dead.0"); err == nil {
			t.Fatal("a write with a canceled context left a readable shard")
		}
	})
}
