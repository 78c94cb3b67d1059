package core

import (
	"context"
	"encoding/hex"
	"sync"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// intent protects the stripes of one write (PUT, UploadPart, and the
// copies built on them) from garbage collection between the first shard
// and the commit. It is recorded in meta lazily: a write that commits
// within IntentAfter never asks meta anything, since garbage collection
// only deletes chunks older than its grace (which must exceed IntentAfter
// by far). Once recorded, the intent is extended every IntentTTL/3 with
// the stripes written since; the commit names it and deletes it in the
// same raft command; close deletes it when the write failed.
//
// Order matters: a stripe id is recorded in meta (once the intent is
// due) before the first shard of the stripe is written, so any chunk a
// collector lists belongs to an intent it will read afterwards, or to a
// write younger than IntentAfter. Once due, stripe ids are reserved
// intentBatch at a time: one meta write per intentBatch stripes, not one
// per stripe (ids reserved and never used protect nothing that exists).
type intent struct {
	s     *Store
	id    string
	start time.Time

	flushMu sync.Mutex // one PutIntent at a time, in order

	mu       sync.Mutex
	ids      [][]byte // every stripe id handed out or reserved
	sent     int      // ids[:sent] are recorded in meta
	reserved [][]byte // recorded ids not handed out yet
	recorded bool
	expires  time.Time // local estimate of the recorded expiry
	err      error     // a failed registration: the write must fail
	timer    *time.Timer
	done     bool
	fenced   bool // deleted in meta by fence: close has nothing left to do
}

// newIntent starts tracking a write; it costs nothing until IntentAfter.
func (s *Store) newIntent(ctx context.Context) *intent {
	it := &intent{s: s, id: hex.EncodeToString(randomID(16)), start: s.now()}
	if s.cfg.IntentAfter > 0 {
		bg := context.WithoutCancel(ctx)
		it.timer = time.AfterFunc(s.cfg.IntentAfter, func() { it.tick(bg) })
	}
	return it
}

// due reports whether the intent must be in meta now.
func (it *intent) due() bool {
	return it.recorded || it.s.cfg.IntentAfter < 0 || it.s.now().Sub(it.start) >= it.s.cfg.IntentAfter
}

// intentBatch is how many stripe ids a due intent reserves per meta write.
const intentBatch = 16

// newStripeID returns the id of a stripe about to be written; once the
// intent is due, the id is recorded in meta before it is returned.
func (it *intent) newStripeID(ctx context.Context) ([]byte, error) {
	it.mu.Lock()
	if !it.due() {
		id := randomID(16)
		it.ids = append(it.ids, id)
		it.mu.Unlock()
		return id, nil
	}
	if len(it.reserved) == 0 {
		batch := make([][]byte, intentBatch)
		for i := range batch {
			batch[i] = randomID(16)
		}
		it.ids = append(it.ids, batch...)
		it.mu.Unlock()
		if err := it.flush(ctx); err != nil {
			return nil, err
		}
		it.mu.Lock()
		// Another stripe may have flushed the batch first, or taken ids.
		it.reserved = append(it.reserved, batch...)
	}
	id := it.reserved[0]
	it.reserved = it.reserved[1:]
	it.mu.Unlock()
	return id, nil
}

// tick is the timer: record the intent (or extend it) and schedule the
// next refresh.
func (it *intent) tick(ctx context.Context) {
	if err := it.flush(ctx); err != nil {
		it.s.log.Warn("write intent not recorded", "intent", it.id, "err", err)
	}
	it.mu.Lock()
	defer it.mu.Unlock()
	if !it.done && it.err == nil {
		it.timer = time.AfterFunc(it.s.cfg.IntentTTL/3, func() { it.tick(ctx) })
	}
}

// flush sends the stripes not yet recorded and extends the expiry.
func (it *intent) flush(ctx context.Context) error {
	it.flushMu.Lock()
	defer it.flushMu.Unlock()
	it.mu.Lock()
	if it.err != nil || it.done {
		err := it.err
		it.mu.Unlock()
		return err
	}
	n := len(it.ids)
	fresh := it.ids[it.sent:n]
	it.mu.Unlock()
	ttl := it.s.cfg.IntentTTL
	sentAt := it.s.now()
	_, err := it.s.meta.PutIntent(ctx, &metapb.PutIntentRequest{Id: it.id, StripeIds: fresh, TtlMillis: ttl.Milliseconds()})
	it.mu.Lock()
	defer it.mu.Unlock()
	if err != nil {
		if it.sent < n || !it.recorded {
			// Stripes that may be written without protection: fail the write.
			it.err = errs.E("core.intent", errs.Unavailable, "recording the write intent", err)
			return it.err
		}
		return err // a refresh: the intent still holds until it expires
	}
	it.s.metrics.intents.Inc()
	it.sent, it.recorded, it.expires = n, true, sentAt.Add(ttl)
	return nil
}

// seal stops the timers before the commit and returns the id to commit
// with ("" when the intent was never recorded). A registration that failed
// or an intent that may have expired fails the write.
func (it *intent) seal() (string, error) {
	if it == nil {
		return "", nil
	}
	it.mu.Lock()
	if it.timer != nil {
		it.timer.Stop()
	}
	it.done = true
	it.mu.Unlock()
	it.flushMu.Lock() // wait for a flush in flight
	defer it.flushMu.Unlock()
	it.mu.Lock()
	defer it.mu.Unlock()
	switch {
	case it.err != nil:
		return "", it.err
	case !it.recorded:
		return "", nil
	case it.s.now().After(it.expires):
		return "", errs.E("core.intent", errs.Unavailable, "the write intent expired before the commit")
	}
	return it.id, nil
}

// close ends the intent: committed, meta deleted it with the commit;
// otherwise it is deleted here (best effort: an intent left behind
// expires and is collected).
func (it *intent) close(ctx context.Context, committed bool) {
	if it == nil {
		return
	}
	it.mu.Lock()
	if it.timer != nil {
		it.timer.Stop()
	}
	it.done = true
	it.mu.Unlock()
	it.flushMu.Lock()
	recorded := it.recorded
	it.flushMu.Unlock()
	it.mu.Lock()
	fenced := it.fenced
	it.mu.Unlock()
	if committed || !recorded || fenced {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), freeTimeout)
	defer cancel()
	if _, err := it.s.meta.DeleteIntent(ctx, &metapb.DeleteIntentRequest{Id: it.id}); err != nil {
		it.s.log.Warn("write intent not deleted; it will expire", "intent", it.id, "err", err)
	}
}

// fence settles a commit that named the intent and failed without a
// definite answer (it may still be applied: a raft entry outlives the
// request that proposed it). Meta applies such a commit only while the
// intent exists, so once the intent's deletion is applied no later apply
// of the commit can succeed, and a linearizable read made afterwards
// tells for good whether the commit happened. fence reports whether that
// holds: false when the intent was never recorded (the commit named none
// and nothing can stop it) or the deletion's own outcome is unknown.
func (it *intent) fence(ctx context.Context) bool {
	if it == nil {
		return false
	}
	it.flushMu.Lock()
	recorded := it.recorded
	it.flushMu.Unlock()
	if !recorded {
		return false
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), freeTimeout)
	defer cancel()
	// NotFound: the commit consumed it, or it expired; either way it is
	// gone for any later apply too.
	if _, err := it.s.meta.DeleteIntent(ctx, &metapb.DeleteIntentRequest{Id: it.id}); err != nil && !errs.Is(err, errs.NotFound) {
		it.s.log.Warn("write intent not deleted; commit outcome stays unknown", "intent", it.id, "err", err)
		return false
	}
	it.mu.Lock()
	it.fenced = true
	it.mu.Unlock()
	return true
}
