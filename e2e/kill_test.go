package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// putRecord is one PUT of the writer loop: the body is randomBytes(size, seed).
type putRecord struct {
	key  string
	size int
	seed uint64
}

// putLog collects what the writers did, for the readers after the crash.
type putLog struct {
	mu       sync.Mutex
	acked    []putRecord // the PUT returned 200
	unacked  []putRecord // the PUT was in flight or failed: may or may not exist
	firstErr error
}

func (l *putLog) add(r putRecord, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil {
		l.acked = append(l.acked, r)
		return
	}
	l.unacked = append(l.unacked, r)
	if l.firstErr == nil {
		l.firstErr = err
	}
}

func (l *putLog) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// killSize mixes inline-sized, single-stripe and multi-stripe objects.
func killSize(r *rand.Rand) int {
	switch r.IntN(3) {
	case 0:
		return r.IntN(4 << 10)
	case 1:
		return 64<<10 + r.IntN(1<<20)
	default:
		return 1<<20 + r.IntN(8<<20)
	}
}

// TestKill9Durability PUTs objects in a loop, SIGKILLs wolke at a random
// moment, restarts it and reads back every PUT that was acknowledged.
func TestKill9Durability(t *testing.T) {
	wolkeBin(t) // skip or fail before anything else
	c := StartCluster(t)
	cl := c.S3(1) // no retries: a PUT that fails must show as failed
	ctx := context.Background()
	const bucket = "kill9"
	if _, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}

	seed := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	var log putLog
	wctx, stopWriters := context.WithCancel(ctx)
	defer stopWriters()
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func(w int, r *rand.Rand) {
			defer wg.Done()
			for i := 0; wctx.Err() == nil; i++ {
				rec := putRecord{key: fmt.Sprintf("w%d/%05d", w, i), size: killSize(r), seed: r.Uint64()}
				_, err := cl.PutObject(wctx, &s3.PutObjectInput{
					Bucket:        aws.String(bucket),
					Key:           aws.String(rec.key),
					Body:          bytes.NewReader(randomBytes(rec.size, rec.seed)),
					ContentLength: aws.Int64(int64(rec.size)),
				})
				log.add(rec, err)
				if err != nil {
					return // the server is gone
				}
			}
		}(w, rand.New(rand.NewPCG(rng.Uint64(), uint64(w))))
	}

	// Let some PUTs land, then kill at a random moment.
	deadline := time.Now().Add(60 * time.Second)
	for log.ackedCount() < 4 {
		if time.Now().After(deadline) {
			stopWriters()
			wg.Wait()
			t.Fatalf("fewer than 4 PUTs acknowledged in 60 s (first error: %v)", log.firstErr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	pause := time.Duration(rng.IntN(2500)) * time.Millisecond
	time.Sleep(pause)
	c.Kill()
	waitDone := make(chan struct{})
	go func() { wg.Wait(); close(waitDone) }()
	select {
	case <-waitDone:
	case <-time.After(30 * time.Second):
		stopWriters()
		<-waitDone
	}
	stopWriters()
	t.Logf("killed %v after the 4th ack: %d PUTs acknowledged, %d in flight or failed",
		pause, len(log.acked), len(log.unacked))

	c.Start()
	cl = c.S3(3)
	bad := 0
	report := func(format string, args ...any) {
		t.Helper()
		if bad++; bad <= 10 {
			t.Errorf(format, args...)
		}
	}
	for _, rec := range log.acked {
		got, err := getAll(ctx, cl, bucket, rec.key)
		if err != nil {
			report("acknowledged %s (%d bytes) lost after SIGKILL: %v", rec.key, rec.size, err)
			continue
		}
		if want := randomBytes(rec.size, rec.seed); !bytes.Equal(got, want) {
			report("acknowledged %s: read %d bytes (sha256 %s), wrote %d (sha256 %s)",
				rec.key, len(got), sha256Hex(got), len(want), sha256Hex(want))
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d acknowledged PUTs did not read back after SIGKILL and restart", bad, len(log.acked))
	}
	// An unacknowledged PUT may be missing, but never half there.
	for _, rec := range log.unacked {
		got, err := getAll(ctx, cl, bucket, rec.key)
		if err != nil {
			var nf interface{ ErrorCode() string }
			if errors.As(err, &nf) && nf.ErrorCode() == "NoSuchKey" {
				continue
			}
			t.Errorf("unacknowledged %s: %v, want the object or NoSuchKey", rec.key, err)
			continue
		}
		if want := randomBytes(rec.size, rec.seed); !bytes.Equal(got, want) {
			t.Errorf("unacknowledged %s exists with %d bytes (sha256 %s), not the %d written",
				rec.key, len(got), sha256Hex(got), len(want))
		}
	}
	// Every acknowledged key is listed.
	listed := map[string]int64{}
	p := s3.NewListObjectsV2Paginator(cl, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListObjectsV2: %v", err)
		}
		for _, o := range page.Contents {
			listed[aws.ToString(o.Key)] = aws.ToInt64(o.Size)
		}
	}
	for _, rec := range log.acked {
		if n, ok := listed[rec.key]; !ok || n != int64(rec.size) {
			t.Errorf("list: %s present=%v size %d, want %d", rec.key, ok, n, rec.size)
		}
	}
}

// getAll reads a whole object.
func getAll(ctx context.Context, cl *s3.Client, bucket, key string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}
