package core

import (
	"bytes"
	"context"
	"hash"
	"syscall"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/iam/sigv4"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// cpuTime is the process's user+system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchPutCPU stores 64 MiB objects with the checksums algs asks for and
// reports the CPU seconds spent per GB stored (cpu-s/GB).
func benchPutCPU(b *testing.B, algs ...string) {
	e := benchEnv(b)
	data := payload(2, 64<<20)
	b.SetBytes(int64(len(data)))
	start := cpuTime(b)
	for b.Loop() {
		opts := PutOptions{Hashes: map[string]hash.Hash{}}
		for _, alg := range algs {
			opts.Hashes[alg], _ = sigv4.NewChecksum(alg)
		}
		if _, err := e.s.PutObjectWith(context.Background(), &metapb.Object{Bucket: testBucket, Key: "k"}, bytes.NewReader(data), int64(len(data)), opts); err != nil {
			b.Fatal(err)
		}
	}
	gb := float64(b.N) * float64(len(data)) / 1e9
	b.ReportMetric((cpuTime(b)-start).Seconds()/gb, "cpu-s/GB")
}

// BenchmarkPutNoChecksum is a PUT with the ETag's MD5 only (the baseline
// of the default checksum's cost).
func BenchmarkPutNoChecksum(b *testing.B) { benchPutCPU(b) }

// BenchmarkPutDefaultChecksum is a PUT with S3's default full-object
// CRC-64/NVME, as the gateway asks for a body without a checksum.
func BenchmarkPutDefaultChecksum(b *testing.B) { benchPutCPU(b, "crc64nvme") }

// BenchmarkChecksumCRC64NVME is the default checksum alone.
func BenchmarkChecksumCRC64NVME(b *testing.B) {
	data := payload(5, 8<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		h, _ := sigv4.NewChecksum("crc64nvme")
		h.Write(data)
		h.Sum(nil)
	}
}
