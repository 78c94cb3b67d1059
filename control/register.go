package control

import (
	"context"
	"log/slog"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// Registration keeps a member key alive under a lease until its context ends
// or Close is called. When the lease is lost (etcd unreachable for longer
// than the TTL, lease revoked), it grants a new lease and writes the key
// again, retrying with backoff.
type Registration struct {
	cli   *clientv3.Client
	key   string
	value string
	ttl   int64
	opts  options

	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once

	mu    sync.Mutex
	lease clientv3.LeaseID
}

// Register writes value at /wolke/<cluster>/<kind>/<id> under a lease of ttl
// and keeps it alive in the background. The first write happens before
// Register returns. When ctx ends or Close is called, the lease is revoked so
// the key disappears at once; a process that dies without either leaves the
// key to expire after ttl.
func Register(ctx context.Context, cli *clientv3.Client, cluster, kind, id string, value []byte, ttl time.Duration, opts ...Option) (*Registration, error) {
	const op = "control.Register"
	if err := checkNames(op, "cluster", cluster, "kind", kind, "id", id); err != nil {
		return nil, err
	}
	if ttl <= 0 {
		return nil, errs.Errorf(op, errs.Invalid, "ttl %v must be positive", ttl)
	}
	r := &Registration{
		cli:   cli,
		key:   Key(cluster, kind, id),
		value: string(value),
		ttl:   ttlSeconds(ttl),
		opts:  buildOptions(opts),
		done:  make(chan struct{}),
	}
	// Keep-alives run until loopCtx ends (ctx or Close); revoking at the end
	// needs a context that is not already canceled.
	loopCtx, cancel := context.WithCancel(ctx)
	lease, ka, err := r.register(loopCtx)
	if err != nil {
		cancel()
		return nil, errs.E(op, errs.Unavailable, err)
	}
	r.cancel = cancel
	go r.run(loopCtx, context.WithoutCancel(ctx), lease, ka)
	return r, nil
}

// register grants a lease, writes the key under it and starts keep-alives.
func (r *Registration) register(ctx context.Context) (clientv3.LeaseID, <-chan *clientv3.LeaseKeepAliveResponse, error) {
	g, err := r.cli.Grant(ctx, r.ttl)
	if err != nil {
		return 0, nil, err
	}
	if _, err := r.cli.Put(ctx, r.key, r.value, clientv3.WithLease(g.ID)); err != nil {
		r.revoke(ctx, g.ID)
		return 0, nil, err
	}
	ka, err := r.cli.KeepAlive(ctx, g.ID)
	if err != nil {
		r.revoke(ctx, g.ID)
		return 0, nil, err
	}
	r.mu.Lock()
	r.lease = g.ID
	r.mu.Unlock()
	return g.ID, ka, nil
}

func (r *Registration) revoke(ctx context.Context, id clientv3.LeaseID) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if _, err := r.cli.Revoke(ctx, id); err != nil {
		r.opts.logger.Debug("lease revoke failed", slog.String("key", r.key), slog.Any("err", err))
	}
}

func (r *Registration) run(ctx, bg context.Context, lease clientv3.LeaseID, ka <-chan *clientv3.LeaseKeepAliveResponse) {
	defer close(r.done)
	for {
		for range ka {
			// Drain keep-alive responses; the channel closes when the
			// lease is gone or ctx ends.
		}
		if ctx.Err() != nil {
			r.revoke(bg, lease)
			return
		}
		r.opts.logger.Warn("registration lease lost, registering again", slog.String("key", r.key))
		old := lease
		wait := r.opts.retryMin
		for {
			var err error
			lease, ka, err = r.register(ctx)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			r.opts.logger.Warn("registration failed", slog.String("key", r.key), slog.Any("err", err))
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = backoff(wait, r.opts.retryMax)
		}
		// The old lease may still exist if etcd came back with it; it no
		// longer holds our key, revoke it so it does not linger.
		r.revoke(bg, old)
	}
}

// Key returns the registered key.
func (r *Registration) Key() string { return r.key }

// Lease returns the current lease id.
func (r *Registration) Lease() clientv3.LeaseID {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lease
}

// Done is closed when the registration has stopped (ctx ended or Close).
func (r *Registration) Done() <-chan struct{} { return r.done }

// Close stops the keep-alives and revokes the lease, which deletes the key.
func (r *Registration) Close() error {
	r.once.Do(r.cancel)
	<-r.done
	return nil
}
