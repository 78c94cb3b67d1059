package diskbench

import (
	"context"
	"sync"
	"testing"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// memStore is a Store in memory that can flip a byte of what it returns.
type memStore struct {
	mu      sync.Mutex
	chunks  map[string][]byte
	puts    int
	corrupt int // byte offset to flip on Get; -1 for none
	failPut bool
}

func newMem() *memStore { return &memStore{chunks: map[string][]byte{}, corrupt: -1} }

func (m *memStore) Put(_ context.Context, id string, data []byte) error {
	if m.failPut {
		return errs.E("mem.Put", errs.NoSpace, "full")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.chunks[id] = append([]byte(nil), data...)
	m.puts++
	return nil
}

func (m *memStore) Get(_ context.Context, id string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.chunks[id]
	if !ok {
		return nil, errs.E("mem.Get", errs.NotFound)
	}
	b = append([]byte(nil), b...)
	if m.corrupt >= 0 {
		b[m.corrupt] ^= 1
	}
	return b, nil
}

func TestRun(t *testing.T) {
	for _, tc := range []struct {
		name       string
		cfg        Config
		corrupt    int
		failPut    bool
		wantChunks int
		wantKind   errs.Kind // Other: no error
	}{
		{"defaults", Config{Size: 5 << 20}, -1, false, 5, errs.Other},
		{"concurrent, partial chunk dropped", Config{Size: 10<<20 + 5, Concurrent: 4}, -1, false, 10, errs.Other},
		{"small chunks", Config{Size: 100, ChunkSize: 10}, -1, false, 10, errs.Other},
		{"first block differs", Config{Size: 4 << 20}, 17, false, 4, errs.Corrupt},
		{"last block differs", Config{Size: 4 << 20}, 1<<20 - 1, false, 4, errs.Corrupt},
		{"small chunk differs", Config{Size: 100, ChunkSize: 10}, 9, false, 10, errs.Corrupt},
		{"put fails", Config{Size: 4 << 20, Concurrent: 2}, -1, true, 0, errs.NoSpace},
		{"too small", Config{Size: 100}, -1, false, 0, errs.Invalid},
		{"bad concurrency", Config{Size: 4 << 20, Concurrent: -1}, -1, false, 0, errs.Invalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMem()
			m.corrupt, m.failPut = tc.corrupt, tc.failPut
			res, err := Run(context.Background(), m, tc.cfg)
			if tc.wantKind != errs.Other {
				if !errs.Is(err, tc.wantKind) {
					t.Fatalf("error %v, want %v", err, tc.wantKind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cs := tc.cfg.withDefaults().ChunkSize
			if res.Write.Chunks != tc.wantChunks || res.Read.Chunks != tc.wantChunks || m.puts != tc.wantChunks || len(m.chunks) != tc.wantChunks {
				t.Errorf("wrote %d, read %d, store saw %d puts of %d chunks; want %d", res.Write.Chunks, res.Read.Chunks, m.puts, len(m.chunks), tc.wantChunks)
			}
			if res.Write.Bytes != int64(tc.wantChunks)*cs || res.Read.Bytes != res.Write.Bytes {
				t.Errorf("bytes written %d read %d, want %d", res.Write.Bytes, res.Read.Bytes, int64(tc.wantChunks)*cs)
			}
			if res.Write.MBps <= 0 || res.Read.MBps <= 0 || res.Write.MiBps >= res.Write.MBps {
				t.Errorf("rates %+v %+v", res.Write, res.Read)
			}
		})
	}
}

func TestRunCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, newMem(), Config{Size: 4 << 20}); !errs.Is(err, errs.Canceled) {
		t.Errorf("error %v, want canceled", err)
	}
}
