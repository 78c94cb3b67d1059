package core

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/klauspost/reedsolomon"

	"github.com/wolke-cloud/wolke/meta/metapb"
)

const benchShard = 1 << 20

func benchShards(b *testing.B) (reedsolomon.Encoder, [][]byte) {
	enc, err := reedsolomon.New(4, 2, reedsolomon.WithAutoGoroutines(benchShard))
	if err != nil {
		b.Fatal(err)
	}
	shards := make([][]byte, 6)
	data := payload(1, 4*benchShard)
	for i := range shards {
		shards[i] = make([]byte, benchShard)
		if i < 4 {
			copy(shards[i], data[i*benchShard:])
		}
	}
	return enc, shards
}

// BenchmarkEncode: 4+2 over 1 MiB shards; throughput counts data bytes.
func BenchmarkEncode(b *testing.B) {
	enc, shards := benchShards(b)
	b.SetBytes(4 * benchShard)
	for b.Loop() {
		if err := enc.Encode(shards); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReconstruct rebuilds two lost data shards of a 4+2 stripe.
func BenchmarkReconstruct(b *testing.B) {
	enc, shards := benchShards(b)
	if err := enc.Encode(shards); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(4 * benchShard)
	work := make([][]byte, len(shards))
	for b.Loop() {
		copy(work, shards)
		work[0], work[2] = work[0][:0], work[2][:0] // lost; capacity reused
		if err := enc.ReconstructData(work); err != nil {
			b.Fatal(err)
		}
	}
}

func benchEnv(b *testing.B) *env {
	return newEnv(b, Config{HedgeAfter: -1}, 6) // defaults: 4+2, 1 MiB shards
}

// BenchmarkPut stores 64 MiB objects through the in-memory fakes.
func BenchmarkPut(b *testing.B) {
	e := benchEnv(b)
	data := payload(2, 64<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := e.s.PutObject(context.Background(), &metapb.Object{Bucket: testBucket, Key: "k"}, bytes.NewReader(data), int64(len(data))); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGet reads a 64 MiB object back through the in-memory fakes.
func BenchmarkGet(b *testing.B) {
	e := benchEnv(b)
	data := payload(3, 64<<20)
	obj, err := e.s.PutObject(context.Background(), &metapb.Object{Bucket: testBucket, Key: "k"}, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r, err := e.s.OpenObject(context.Background(), obj, 0, -1)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
}
