// Package throttle paces background I/O (repair, scrub) to a byte rate.
package throttle

import (
	"context"
	"sync"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// Limiter lets callers through at an average of Rate bytes per second,
// with bursts of up to one second's worth. The zero Limiter and one with
// a rate ≤ 0 never wait. It is safe for concurrent use.
type Limiter struct {
	rate float64 // bytes per second
	now  func() time.Time

	mu   sync.Mutex
	next time.Time // when the bytes granted so far are paid for
}

// New returns a limiter of bytesPerSec (≤ 0: unlimited).
func New(bytesPerSec int64) *Limiter {
	return &Limiter{rate: float64(bytesPerSec), now: time.Now}
}

// delay books n bytes and returns how long the caller waits for them.
func (l *Limiter) delay(n int) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	// Allow a burst of one second: unused time older than that is lost.
	if floor := now.Add(-time.Second); l.next.Before(floor) {
		l.next = floor
	}
	l.next = l.next.Add(time.Duration(float64(n) / l.rate * float64(time.Second)))
	return max(l.next.Sub(now), 0)
}

// Wait blocks until n more bytes fit the rate, or ctx ends.
func (l *Limiter) Wait(ctx context.Context, n int) error {
	if l == nil || l.rate <= 0 || n <= 0 {
		return nil
	}
	d := l.delay(n)
	if d == 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return errs.E("throttle.Wait", errs.Canceled, ctx.Err())
	}
}
