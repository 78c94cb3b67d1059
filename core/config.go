package core

import (
	"fmt"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// Config tunes the object layer. The zero value of every field means "use
// the default" (see SetDefaults).
type Config struct {
	// DataShards (k) and ParityShards (m) are the erasure code used for new
	// objects unless the object template or its bucket names another one.
	// Default 4+2.
	DataShards, ParityShards int
	// InlineMax: objects smaller than this live inline in the manifest.
	// Default 128 KiB. Negative disables inlining.
	InlineMax int64
	// ShardSize is the size of one shard of a full stripe; a full stripe
	// carries DataShards*ShardSize object bytes. Default 1 MiB.
	ShardSize int
	// WriteQuorum is how many of the k+m shards of a stripe must be durable
	// before the stripe counts as written. Default k, or k+1 when k == m.
	//
	// Why: a stripe is readable from any k shards, so k is the least that
	// makes it readable at all (MinIO's rule). When k == m the k+m disks split
	// into two halves of k each, and an acknowledged write that reached only
	// one half could coexist with an older or failed write that reached only
	// the other half; both halves would then look equally "complete". With
	// k+1 any two write quorums share a disk, so there is never such a tie.
	WriteQuorum int
	// StripesInFlight bounds how many stripes of one PUT are being encoded
	// and written while the next one is read from the body. Default 2.
	StripesInFlight int
	// StragglerWait: once a stripe has its write quorum, the remaining shard
	// writes get this long to finish before they are abandoned (a slow disk
	// must not stall every PUT). Default 2s.
	StragglerWait time.Duration
	// HedgeAfter: a read that has not got its shards after this long also
	// asks parity shards and reconstructs from whichever arrive first.
	// Default 250ms; negative disables hedging.
	HedgeAfter time.Duration
	// IntentAfter: a write (PUT, UploadPart, copies) still running after
	// this long records a write intent in meta that protects its stripes
	// from garbage collection until the commit. Repair's GCGrace must
	// exceed it by a wide margin (see docs/CONTRACTS.md). Default 10s;
	// negative: record the intent before the first shard (tests, and any
	// setup whose GC grace is under a minute).
	IntentAfter time.Duration
	// IntentTTL is how long a recorded intent lives without a refresh; the
	// writer extends it every IntentTTL/3. Default 5m.
	IntentTTL time.Duration
	// ShardWriteTimeout bounds the wait for a stripe's write quorum: shard
	// writes still running after it are abandoned and, short of the
	// quorum, the write fails errs.Unavailable. Default 10s.
	ShardWriteTimeout time.Duration
	// PlacementRefresh is how long cached placement groups are trusted.
	// Default 30s.
	PlacementRefresh time.Duration
	// MinPartSize is the smallest part (but the last) CompleteMultipartUpload
	// accepts. Default 5 MiB, as S3.
	MinPartSize int64
	// FreeWorkers and FreeQueue size the background freeing of chunks of
	// replaced or deleted versions. Defaults 4 workers, 1024 queued jobs.
	FreeWorkers, FreeQueue int
	// MasterKey (32 bytes) wraps the data keys of SSE-S3 objects; every
	// gateway of a cluster must have the same. Nil: SSE-S3 is refused.
	MasterKey []byte
}

// SetDefaults fills zero fields with their defaults.
func (c *Config) SetDefaults() {
	if c.DataShards == 0 {
		c.DataShards = 4
	}
	if c.ParityShards == 0 {
		c.ParityShards = 2
	}
	if c.InlineMax == 0 {
		c.InlineMax = 128 << 10
	}
	if c.ShardSize == 0 {
		c.ShardSize = 1 << 20
	}
	if c.WriteQuorum == 0 {
		c.WriteQuorum = defaultQuorum(c.DataShards, c.ParityShards)
	}
	if c.StripesInFlight == 0 {
		c.StripesInFlight = 2
	}
	if c.StragglerWait == 0 {
		c.StragglerWait = 2 * time.Second
	}
	if c.HedgeAfter == 0 {
		c.HedgeAfter = 250 * time.Millisecond
	}
	if c.IntentAfter == 0 {
		c.IntentAfter = 10 * time.Second
	}
	if c.IntentTTL == 0 {
		c.IntentTTL = 5 * time.Minute
	}
	if c.ShardWriteTimeout == 0 {
		c.ShardWriteTimeout = 10 * time.Second
	}
	if c.PlacementRefresh == 0 {
		c.PlacementRefresh = 30 * time.Second
	}
	if c.MinPartSize == 0 {
		c.MinPartSize = 5 << 20
	}
	if c.FreeWorkers == 0 {
		c.FreeWorkers = 4
	}
	if c.FreeQueue == 0 {
		c.FreeQueue = 1024
	}
}

// Validate reports a configuration that cannot work, with kind errs.Invalid.
func (c *Config) Validate() error {
	const op = "core.Config"
	bad := func(format string, args ...any) error {
		return errs.E(op, errs.Invalid, fmt.Sprintf(format, args...))
	}
	switch {
	case len(c.MasterKey) != 0 && len(c.MasterKey) != 32:
		return bad("the master key has %d bytes, not 32", len(c.MasterKey))
	case c.DataShards < 1 || c.ParityShards < 1 || c.DataShards+c.ParityShards > 256:
		return bad("erasure code %d+%d out of range", c.DataShards, c.ParityShards)
	case c.ShardSize < 1:
		return bad("shard size %d", c.ShardSize)
	case c.WriteQuorum < c.DataShards || c.WriteQuorum > c.DataShards+c.ParityShards:
		return bad("write quorum %d not within [%d, %d]", c.WriteQuorum, c.DataShards, c.DataShards+c.ParityShards)
	case c.StripesInFlight < 1:
		return bad("stripes in flight %d", c.StripesInFlight)
	case c.IntentTTL < 3*time.Millisecond || c.ShardWriteTimeout < 0:
		return bad("intent ttl %v, shard write timeout %v", c.IntentTTL, c.ShardWriteTimeout)
	case c.StragglerWait < 0 || c.PlacementRefresh < 0 || c.MinPartSize < 0:
		return bad("negative duration or size")
	case c.FreeWorkers < 1 || c.FreeQueue < 1:
		return bad("free workers %d, queue %d", c.FreeWorkers, c.FreeQueue)
	}
	return nil
}

// defaultQuorum is the write quorum for a k+m code (see Config.WriteQuorum).
func defaultQuorum(k, m int) int {
	if k == m {
		return k + 1
	}
	return k
}
