package core

import (
	"hash"
	"io"
	"sync/atomic"
)

// digester feeds the bytes of a body to its hashes (the MD5 of the ETag
// and the S3 checksums asked for) off the PUT's critical path: each hash
// runs in a goroutine of its own, fed the stripes in order, so hashing
// overlaps reading the body, erasure coding and shard writes instead of
// adding to them. A stripe's buffer may be reused only after its done
// channel is closed.
type digester struct {
	feeds []chan *digestJob
	ended chan struct{} // one value per hash goroutine at its end
}

// digestJob is one stripe's data, hashed by every goroutine; the last one
// to finish closes done.
type digestJob struct {
	data    []byte
	pending atomic.Int32
	done    chan struct{}
}

// newDigester starts one goroutine per hash; depth bounds the stripes
// queued for each. close must be called to stop them.
func newDigester(depth int, hs []hash.Hash) *digester {
	d := &digester{ended: make(chan struct{}, len(hs))}
	for _, h := range hs {
		feed := make(chan *digestJob, depth)
		d.feeds = append(d.feeds, feed)
		go d.run(h, feed)
	}
	return d
}

func (d *digester) run(h io.Writer, feed <-chan *digestJob) {
	defer func() { d.ended <- struct{}{} }()
	for j := range feed {
		h.Write(j.data)
		if j.pending.Add(-1) == 0 {
			close(j.done)
		}
	}
}

// add queues data for every hash and returns a channel closed once all
// of them have consumed it. Until then data must not change.
func (d *digester) add(data []byte) <-chan struct{} {
	j := &digestJob{data: data, done: make(chan struct{})}
	if len(d.feeds) == 0 {
		close(j.done)
		return j.done
	}
	j.pending.Store(int32(len(d.feeds)))
	for _, f := range d.feeds {
		f <- j
	}
	return j.done
}

// close waits for every hash to consume what was added; the hashes hold
// their final state afterwards.
func (d *digester) close() {
	for _, f := range d.feeds {
		close(f)
	}
	for range d.feeds {
		<-d.ended
	}
}

// bodyHashes are the hashes a PUT feeds its stored bytes to: the MD5 of
// the ETag first, then the checksums of opts when the stored bytes are the
// plain body (no encryption); with encryption the checksums are fed the
// plain body on its way into the sealer instead (see hashBody).
func bodyHashes(md5 hash.Hash, opts map[string]hash.Hash, plain bool) []hash.Hash {
	hs := []hash.Hash{md5}
	if plain {
		for _, h := range opts {
			hs = append(hs, h)
		}
	}
	return hs
}
