package core

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wolke-cloud/wolke/core/coretest"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// Small geometry so that tests stay fast: 4+2 over 1 KiB shards.
const (
	testK      = 4
	testM      = 2
	testShard  = 1024
	testStripe = testK * testShard
	testInline = 256
	testBucket = "b"
)

type env struct {
	t      testing.TB
	s      *Store
	meta   *coretest.Meta
	shards *coretest.Shards
	reg    *prometheus.Registry
	disks  []string
}

func testConfig() Config {
	return Config{
		DataShards: testK, ParityShards: testM, ShardSize: testShard, InlineMax: testInline,
		StragglerWait: 20 * time.Millisecond, HedgeAfter: -1, MinPartSize: 1,
	}
}

// newEnv builds a Store over fakes with nDisks disks and a bucket "b".
func newEnv(t testing.TB, cfg Config, nDisks int) *env {
	t.Helper()
	disks := make([]string, nDisks)
	for i := range disks {
		disks[i] = fmt.Sprintf("disk%02d", i)
	}
	e := &env{t: t, meta: coretest.NewMeta(disks...), shards: coretest.NewShards(), reg: prometheus.NewRegistry(), disks: disks}
	s, err := New(cfg, Deps{Meta: e.meta, Shards: e.shards, Registry: e.reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	e.s = s
	if err := s.CreateBucket(context.Background(), &metapb.Bucket{Name: testBucket}); err != nil {
		t.Fatal(err)
	}
	return e
}

func payload(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func etagOf(b []byte) string {
	sum := md5.Sum(b)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

// put stores data under key with a known size.
func (e *env) put(key string, data []byte) *metapb.Object {
	e.t.Helper()
	obj, err := e.s.PutObject(context.Background(), &metapb.Object{Bucket: testBucket, Key: key}, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		e.t.Fatalf("PutObject(%s, %d bytes): %v", key, len(data), err)
	}
	return obj
}

// read reads a range of obj.
func (e *env) read(obj *metapb.Object, off, length int64) ([]byte, error) {
	r, err := e.s.OpenObject(context.Background(), obj, off, length)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// head reads the current manifest of key.
func (e *env) head(key string) *metapb.Object {
	e.t.Helper()
	obj, err := e.s.HeadObject(context.Background(), testBucket, key, "")
	if err != nil {
		e.t.Fatalf("HeadObject(%s): %v", key, err)
	}
	return obj
}

// disk returns the disk holding shard i of st.
func (e *env) disk(st *metapb.Stripe, i int) string {
	e.t.Helper()
	g, err := e.s.groups.group(context.Background(), st.GetPlacementGroup())
	if err != nil {
		e.t.Fatal(err)
	}
	return g.GetDisks()[i]
}

// chunksOf lists "disk/chunk" of every shard of the stripes.
func (e *env) chunksOf(stripes []*metapb.Stripe) []string {
	var out []string
	for _, st := range stripes {
		for i := range st.GetShardCrc32C() {
			out = append(out, e.disk(st, i)+"/"+ChunkID(st.GetId(), i))
		}
	}
	return out
}

func (e *env) stored(chunk string) bool {
	for _, c := range e.shards.Chunks() {
		if c == chunk {
			return true
		}
	}
	return false
}

// metric returns the value of a counter (the sum over label sets matching
// labels, given as name, value pairs).
func (e *env) metric(name string, labels ...string) float64 {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// oneByteReader hands out one byte per Read and never says EOF early, the
// worst case for stripe assembly.
type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

// failingReader returns its data and then err instead of io.EOF.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func errUnavailable() error { return errs.E("fake", errs.Unavailable, "connection lost after apply") }
