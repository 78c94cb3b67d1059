package control

import (
	"io"
	"net"
	"sync"
	"testing"
)

// addrProxy is a TCP forwarder at an address the test owns for its whole
// life. Pointing it at a new etcd simulates an etcd restarted at the same
// address, without giving the port up in between: another process could
// take a port released for a restart (CI failed on exactly that).
type addrProxy struct {
	ln      net.Listener
	mu      sync.Mutex
	backend string // "" while etcd is down: connections are closed at once
}

func startProxy(t *testing.T, backend string) *addrProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &addrProxy{ln: ln, backend: backend}
	t.Cleanup(func() { ln.Close() })
	go p.serve()
	return p
}

// URL is the client endpoint to dial instead of etcd's own.
func (p *addrProxy) URL() string { return "http://" + p.ln.Addr().String() }

// point sends new connections to backend ("" refuses them).
func (p *addrProxy) point(backend string) {
	p.mu.Lock()
	p.backend = backend
	p.mu.Unlock()
}

func (p *addrProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		backend := p.backend
		p.mu.Unlock()
		go pipe(c, backend)
	}
}

func pipe(c net.Conn, backend string) {
	defer c.Close()
	if backend == "" {
		return
	}
	b, err := net.Dial("tcp", backend)
	if err != nil {
		return
	}
	defer b.Close()
	done := make(chan struct{}, 2)
	go func() { io.Copy(b, c); done <- struct{}{} }()
	go func() { io.Copy(c, b); done <- struct{}{} }()
	<-done // either side gone: close both, which ends the other copy
}

// hostOf is the host:port of an etcd client endpoint.
func hostOf(e *Embedded) string { return e.Endpoints()[0][len("http://"):] }
