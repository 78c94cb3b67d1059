package cluster

import (
	"sync"
	"sync/atomic"

	"github.com/wolke-cloud/wolke/chunk"
	"github.com/wolke-cloud/wolke/chunk/chunkclient"
)

// localChunks are the chunk servers running in this process, by listening
// address: the cluster's own chunk clients hand them their stream
// requests directly (chunkclient.Options.Local) instead of over loopback
// TCP. Lookups read an immutable map through an atomic pointer; the rare
// changes copy it.
type localChunks struct {
	mu sync.Mutex // serializes changes
	m  atomic.Pointer[map[string]*chunk.Server]
}

// set makes srv the server at addr.
func (l *localChunks) set(addr string, srv *chunk.Server) {
	l.update(func(m map[string]*chunk.Server) { m[addr] = srv })
}

// remove forgets srv at addr (not a server that took its place since).
func (l *localChunks) remove(addr string, srv *chunk.Server) {
	l.update(func(m map[string]*chunk.Server) {
		if m[addr] == srv {
			delete(m, addr)
		}
	})
}

func (l *localChunks) update(change func(map[string]*chunk.Server)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := map[string]*chunk.Server{}
	if old := l.m.Load(); old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	change(m)
	l.m.Store(&m)
}

// lookup is chunkclient.Options.Local. A nil localChunks has no servers.
func (l *localChunks) lookup(addr string) chunkclient.LocalServer {
	if l == nil {
		return nil
	}
	if m := l.m.Load(); m != nil {
		if srv := (*m)[addr]; srv != nil {
			return srv
		}
	}
	return nil
}

// options are the chunk client options of the cluster's own services:
// requests to its in-process chunk servers skip the network.
func (l *localChunks) options() chunkclient.Options {
	if l == nil {
		return chunkclient.Options{}
	}
	return chunkclient.Options{Local: l.lookup}
}
