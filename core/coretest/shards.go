// Package coretest has in-memory fakes of what the object layer talks to:
// a metadata service (metapb.MetaClient, versioning off) and chunk servers
// (core.Shards) with fault injection. Other packages may use them to test
// against a real *core.Store without servers.
package coretest

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// Shards is an in-memory core.Shards. Disks need no registration: a write to
// an unknown disk id creates it. Faults: SetDown, SetSlow, FlipByte,
// Corrupt, Lose.
type Shards struct {
	mu      sync.Mutex
	data    map[string]map[string][]byte // disk → chunk → bytes
	down    map[string]bool
	slow    map[string]time.Duration
	corrupt map[string]bool // disk + "/" + chunk: reads fail with errs.Corrupt
	ops     map[string]int
}

// NewShards returns an empty store.
func NewShards() *Shards {
	return &Shards{
		data:    make(map[string]map[string][]byte),
		down:    make(map[string]bool),
		slow:    make(map[string]time.Duration),
		corrupt: make(map[string]bool),
		ops:     make(map[string]int),
	}
}

// SetDown makes every operation on disk fail with errs.Unavailable (or
// succeed again).
func (s *Shards) SetDown(disk string, down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down[disk] = down
}

// SetSlow delays every operation on disk by d (0: no delay). A delayed call
// whose context ends first fails with the context's error and has no effect.
func (s *Shards) SetSlow(disk string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.slow[disk] = d
}

// FlipByte silently changes one byte of a stored shard, as bitrot that the
// disk did not catch. It reports whether the shard exists.
func (s *Shards) FlipByte(disk, chunk string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.data[disk][chunk]
	if ok && len(b) > 0 {
		b[len(b)/2] ^= 0x5a
	}
	return ok
}

// Corrupt makes reads of a shard fail with errs.Corrupt, as a chunk server
// that caught bad checksums. It reports whether the shard exists.
func (s *Shards) Corrupt(disk, chunk string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.data[disk][chunk]
	s.corrupt[disk+"/"+chunk] = true
	return ok
}

// Lose removes a shard without a trace. It reports whether it existed.
func (s *Shards) Lose(disk, chunk string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.data[disk][chunk]
	delete(s.data[disk], chunk)
	return ok
}

// Has reports whether disk holds chunk.
func (s *Shards) Has(disk, chunk string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.data[disk][chunk]
	return ok
}

// Chunks lists the chunks stored on all disks as "disk/chunk", sorted.
func (s *Shards) Chunks() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for d, m := range s.data {
		for c := range m {
			out = append(out, d+"/"+c)
		}
	}
	sort.Strings(out)
	return out
}

// Ops counts calls by method name ("WriteShard", "ReadShard", "DeleteShard").
func (s *Shards) Ops(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ops[method]
}

// enter counts the call, applies the disk's delay and its down state.
func (s *Shards) enter(ctx context.Context, op, disk string) error {
	s.mu.Lock()
	s.ops[op]++
	d := s.slow[disk]
	s.mu.Unlock()
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return errs.E("coretest."+op, errs.Canceled, ctx.Err())
		}
	}
	if err := ctx.Err(); err != nil {
		return errs.E("coretest."+op, errs.Canceled, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down[disk] {
		return errs.E("coretest."+op, errs.Unavailable, "disk "+disk+" is down")
	}
	return nil
}

// WriteShard stores a copy of data.
func (s *Shards) WriteShard(ctx context.Context, disk, chunk string, data []byte) error {
	if err := s.enter(ctx, "WriteShard", disk); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.data[disk] == nil {
		s.data[disk] = make(map[string][]byte)
	}
	s.data[disk][chunk] = append([]byte(nil), data...)
	delete(s.corrupt, disk+"/"+chunk)
	return nil
}

// ReadShard returns a copy of a shard.
func (s *Shards) ReadShard(ctx context.Context, disk, chunk string) ([]byte, error) {
	if err := s.enter(ctx, "ReadShard", disk); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.data[disk][chunk]
	switch {
	case !ok:
		return nil, errs.E("coretest.ReadShard", errs.NotFound, "chunk "+chunk+" on disk "+disk)
	case s.corrupt[disk+"/"+chunk]:
		return nil, errs.E("coretest.ReadShard", errs.Corrupt, "chunk "+chunk+" on disk "+disk)
	}
	return append([]byte(nil), b...), nil
}

// DeleteShard removes a shard; errs.NotFound if there is none.
func (s *Shards) DeleteShard(ctx context.Context, disk, chunk string) error {
	if err := s.enter(ctx, "DeleteShard", disk); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.data[disk][chunk]; !ok {
		return errs.E("coretest.DeleteShard", errs.NotFound, "chunk "+chunk+" on disk "+disk)
	}
	delete(s.data[disk], chunk)
	delete(s.corrupt, disk+"/"+chunk)
	return nil
}
