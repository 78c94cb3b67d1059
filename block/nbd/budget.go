package nbd

import "sync"

// budget is a counting semaphore over bytes.
type budget struct {
	mu   sync.Mutex
	cond *sync.Cond
	free int64
}

func newBudget(n int64) *budget {
	b := &budget{free: n}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// acquire waits until n bytes are free and takes them; n never exceeds
// the total (Config.Validate), so it cannot wait forever while the
// requests holding bytes finish.
func (b *budget) acquire(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.free < n {
		b.cond.Wait()
	}
	b.free -= n
}

func (b *budget) release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.free += n
	b.mu.Unlock()
	b.cond.Broadcast()
}
