package cluster

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/wolke-cloud/wolke/control"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// diskResolver finds the address of the live chunk server that holds a
// disk, from the chunk servers' registrations in etcd (each lists its
// disks). It follows etcd's watch, so a server that stops or whose lease
// expires is gone from the view at once.
type diskResolver struct {
	dir *control.Directory

	// cur is the current view, immutable; lookups only load it and poll
	// its changed channel (no lock). rebuild (under mu) replaces it once
	// the directory changed.
	cur atomic.Pointer[diskView]
	mu  sync.Mutex
}

// diskView is the disk → address map built from the directory as it was
// just before changed was closed.
type diskView struct {
	changed  <-chan struct{}
	diskAddr map[string]string
}

func newDiskResolver(ctx context.Context, etcd *clientv3.Client, cluster string) (*diskResolver, error) {
	d, err := control.NewDirectory(ctx, etcd, cluster, "chunk")
	if err != nil {
		return nil, err
	}
	return &diskResolver{dir: d}, nil
}

// view returns the current disk → address map, rebuilt after a change.
func (r *diskResolver) view() map[string]string {
	if v := r.cur.Load(); v != nil {
		select {
		case <-v.changed:
		default:
			return v.diskAddr
		}
	}
	return r.rebuild()
}

func (r *diskResolver) rebuild() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v := r.cur.Load(); v != nil { // rebuilt meanwhile?
		select {
		case <-v.changed:
		default:
			return v.diskAddr
		}
	}
	// Changed before Members: a change in between closes this channel and
	// the next lookup rebuilds again.
	changed := r.dir.Changed()
	m := map[string]string{}
	for _, v := range r.dir.Members() {
		var ep ChunkEndpoint
		if json.Unmarshal(v, &ep) != nil {
			continue
		}
		for _, d := range ep.Disks {
			m[d] = ep.Addr
		}
	}
	r.cur.Store(&diskView{changed: changed, diskAddr: m})
	return m
}

// Resolve implements chunkclient's resolver: errs.Unavailable when the
// disk's server is not alive.
func (r *diskResolver) Resolve(_ context.Context, disk string) (string, error) {
	if addr, ok := r.view()[disk]; ok {
		return addr, nil
	}
	return "", errs.Errorf("cluster.Resolve", errs.Unavailable, "no live chunk server holds disk %s", disk)
}

// liveDisks returns the set of disks whose server is alive now.
func (r *diskResolver) liveDisks(context.Context) (map[string]bool, error) {
	view := r.view()
	live := make(map[string]bool, len(view))
	for d := range view {
		live[d] = true
	}
	return live, nil
}

func (r *diskResolver) Close() error { return r.dir.Close() }
