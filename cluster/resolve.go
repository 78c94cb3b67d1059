package cluster

import (
	"context"
	"encoding/json"
	"sync"

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

	mu       sync.Mutex
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
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.changed != nil {
		select {
		case <-r.changed:
		default:
			return r.diskAddr
		}
	}
	r.changed = r.dir.Changed()
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
	r.diskAddr = m
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
