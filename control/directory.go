package control

import (
	"bytes"
	"context"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// List returns the current members of a kind, id → value.
func List(ctx context.Context, cli *clientv3.Client, cluster, kind string) (map[string][]byte, error) {
	const op = "control.List"
	if err := checkNames(op, "cluster", cluster, "kind", kind); err != nil {
		return nil, err
	}
	m, _, err := list(ctx, cli, Prefix(cluster, kind))
	if err != nil {
		return nil, errs.E(op, errs.Unavailable, err)
	}
	return m, nil
}

// Watch calls fn with the full member map of a kind at once and again after
// every change, until ctx ends; it then returns nil. fn owns the map it gets.
// Lost watches (compaction, leader loss, etcd restart) are resumed by listing
// again, so fn may see a change only as the difference between two maps.
func Watch(ctx context.Context, cli *clientv3.Client, cluster, kind string, fn func(map[string][]byte), opts ...Option) error {
	const op = "control.Watch"
	if err := checkNames(op, "cluster", cluster, "kind", kind); err != nil {
		return err
	}
	f := &follower{cli: cli, prefix: Prefix(cluster, kind), opts: buildOptions(opts), emit: fn}
	m, rev, ok := f.relist(ctx)
	if !ok {
		return nil
	}
	fn(maps.Clone(m))
	f.follow(ctx, m, rev)
	return nil
}

// list reads every key under prefix and the revision it was read at.
func list(ctx context.Context, cli *clientv3.Client, prefix string) (map[string][]byte, int64, error) {
	resp, err := cli.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, 0, err
	}
	m := make(map[string][]byte, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		m[strings.TrimPrefix(string(kv.Key), prefix)] = kv.Value
	}
	return m, resp.Header.Revision, nil
}

// follower keeps a member map current with a watch and calls emit with a
// copy after every change.
type follower struct {
	cli    *clientv3.Client
	prefix string
	opts   options
	emit   func(map[string][]byte)
}

// relist lists until it succeeds or ctx ends (ok false).
func (f *follower) relist(ctx context.Context) (m map[string][]byte, rev int64, ok bool) {
	wait := f.opts.retryMin
	for {
		m, rev, err := list(ctx, f.cli, f.prefix)
		if err == nil {
			return m, rev, true
		}
		f.opts.logger.Warn("member list failed", slog.String("prefix", f.prefix), slog.Any("err", err))
		select {
		case <-ctx.Done():
			return nil, 0, false
		case <-time.After(wait):
		}
		wait = backoff(wait, f.opts.retryMax)
	}
}

// follow watches from rev+1, applying events to m, until ctx ends.
func (f *follower) follow(ctx context.Context, m map[string][]byte, rev int64) {
	for ctx.Err() == nil {
		f.watchOnce(ctx, m, &rev)
		if ctx.Err() != nil {
			return
		}
		fresh, freshRev, ok := f.relist(ctx)
		if !ok {
			return
		}
		if !sameMembers(m, fresh) {
			f.emit(maps.Clone(fresh))
		}
		m, rev = fresh, freshRev
	}
}

// watchOnce runs one watch stream until it fails or ctx ends.
func (f *follower) watchOnce(ctx context.Context, m map[string][]byte, rev *int64) {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := f.cli.Watch(wctx, f.prefix, clientv3.WithPrefix(), clientv3.WithRev(*rev+1))
	for resp := range wch {
		if err := resp.Err(); err != nil {
			f.opts.logger.Warn("member watch lost", slog.String("prefix", f.prefix), slog.Any("err", err))
			return
		}
		if len(resp.Events) == 0 {
			continue
		}
		for _, ev := range resp.Events {
			id := strings.TrimPrefix(string(ev.Kv.Key), f.prefix)
			switch ev.Type {
			case clientv3.EventTypePut:
				m[id] = ev.Kv.Value
			case clientv3.EventTypeDelete:
				delete(m, id)
			}
		}
		*rev = resp.Header.Revision
		f.emit(maps.Clone(m))
	}
}

func sameMembers(a, b map[string][]byte) bool {
	return maps.EqualFunc(a, b, bytes.Equal)
}

// Directory is a live view of the members of one kind: it lists them once
// and follows a watch. The gateway resolves chunk server addresses with it,
// services find meta nodes with it.
type Directory struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	members map[string][]byte
	changed chan struct{} // closed and replaced on every change
}

// NewDirectory lists the members of a kind and follows changes until ctx
// ends or Close is called. The first list must succeed before ctx ends.
func NewDirectory(ctx context.Context, cli *clientv3.Client, cluster, kind string, opts ...Option) (*Directory, error) {
	const op = "control.NewDirectory"
	if err := checkNames(op, "cluster", cluster, "kind", kind); err != nil {
		return nil, err
	}
	prefix := Prefix(cluster, kind)
	m, rev, err := list(ctx, cli, prefix)
	if err != nil {
		return nil, errs.E(op, errs.Unavailable, err)
	}
	d := &Directory{done: make(chan struct{}), members: maps.Clone(m), changed: make(chan struct{})}
	f := &follower{cli: cli, prefix: prefix, opts: buildOptions(opts), emit: d.set}
	var fctx context.Context
	fctx, d.cancel = context.WithCancel(ctx)
	go func() {
		defer close(d.done)
		f.follow(fctx, m, rev)
	}()
	return d, nil
}

func (d *Directory) set(m map[string][]byte) {
	d.mu.Lock()
	d.members = m
	close(d.changed)
	d.changed = make(chan struct{})
	d.mu.Unlock()
}

// Lookup returns the value registered for id.
func (d *Directory) Lookup(id string) ([]byte, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	v, ok := d.members[id]
	return bytes.Clone(v), ok
}

// Members returns a copy of the current member map.
func (d *Directory) Members() map[string][]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string][]byte, len(d.members))
	for k, v := range d.members {
		out[k] = bytes.Clone(v)
	}
	return out
}

// Changed returns a channel that is closed at the next change.
func (d *Directory) Changed() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.changed
}

// Wait returns the value for id, waiting until it is registered or ctx ends
// (errs.NotFound) or the directory is closed (errs.Unavailable).
func (d *Directory) Wait(ctx context.Context, id string) ([]byte, error) {
	const op = "control.Directory.Wait"
	for {
		d.mu.Lock()
		v, ok := d.members[id]
		ch := d.changed
		d.mu.Unlock()
		if ok {
			return bytes.Clone(v), nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, errs.E(op, errs.NotFound, "member "+id+" not registered", ctx.Err())
		case <-d.done:
			return nil, errs.E(op, errs.Unavailable, "directory closed")
		}
	}
}

// Close stops following changes; Lookup keeps answering from the last view.
func (d *Directory) Close() error {
	d.cancel()
	<-d.done
	return nil
}
