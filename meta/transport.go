package meta

import (
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// streamLayer runs raft's network transport over a listener the caller
// opened, advertising an address peers can dial.
type streamLayer struct {
	ln  net.Listener
	adv net.Addr
}

var _ raft.StreamLayer = (*streamLayer)(nil)

func (s *streamLayer) Accept() (net.Conn, error) { return s.ln.Accept() }
func (s *streamLayer) Close() error              { return s.ln.Close() }
func (s *streamLayer) Addr() net.Addr            { return s.adv }

func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	return d.Dial("tcp", string(address))
}

// advertised is a net.Addr for an address string.
type advertised string

func (a advertised) Network() string { return "tcp" }
func (a advertised) String() string  { return string(a) }
