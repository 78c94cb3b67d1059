// Package metaclient is the client of the meta service.
//
// A Client implements metapb.MetaClient over connections to every meta
// node given. Errors come back as errs kinds (with metaerr reasons). A
// call that fails with errs.Unavailable (no leader yet, node down) is
// retried with backoff on the next node until the call's ctx ends, or
// for RetryWindow when the ctx has no deadline. Nodes forward to the
// leader themselves, so any node will do; the client sticks to the last
// one that answered.
package metaclient

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/internal/rpcerr"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
)

// MaxMsgSize is the largest message sent or received (big manifests).
const MaxMsgSize = 64 << 20

// Client talks to a meta cluster.
type Client struct {
	metapb.MetaClient
	conn *multiConn
}

type options struct {
	retryWindow time.Duration
	dialOpts    []grpc.DialOption
}

// Option changes how Dial connects.
type Option func(*options)

// WithRetryWindow bounds how long a call without a ctx deadline keeps
// retrying Unavailable errors (default 30s).
func WithRetryWindow(d time.Duration) Option { return func(o *options) { o.retryWindow = d } }

// WithDialOptions adds gRPC dial options (credentials, say).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOpts = append(o.dialOpts, opts...) }
}

// Dial makes a client of the meta nodes at addrs. Connections are made
// lazily; Dial fails only on bad arguments.
func Dial(ctx context.Context, addrs []string, opts ...Option) (*Client, error) {
	const op = "metaclient.Dial"
	if len(addrs) == 0 {
		return nil, errs.E(op, errs.Invalid, "no meta addresses")
	}
	if err := ctx.Err(); err != nil {
		return nil, errs.E(op, errs.Canceled, err)
	}
	o := options{retryWindow: 30 * time.Second}
	for _, f := range opts {
		f(&o)
	}
	dialOpts := append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMsgSize), grpc.MaxCallSendMsgSize(MaxMsgSize)),
		// A node behind a partition neither answers nor resets: without
		// pings a call to it would hang until its ctx ends instead of
		// failing over (Unavailable) to the next node.
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 2 * time.Second, Timeout: 2 * time.Second, PermitWithoutStream: true}),
	}, o.dialOpts...)
	mc := &multiConn{retryWindow: o.retryWindow}
	for _, a := range addrs {
		cc, err := grpc.NewClient(a, dialOpts...)
		if err != nil {
			mc.close()
			return nil, errs.E(op, errs.Invalid, err)
		}
		mc.conns = append(mc.conns, cc)
	}
	return &Client{MetaClient: metapb.NewMetaClient(mc), conn: mc}, nil
}

// Close closes every connection.
func (c *Client) Close() error { return c.conn.close() }

// multiConn is a grpc.ClientConnInterface over several nodes that
// converts errors to kinds and retries Unavailable on the next node.
type multiConn struct {
	conns       []*grpc.ClientConn
	retryWindow time.Duration

	mu      sync.Mutex
	current int
}

func (m *multiConn) pick() (int, *grpc.ClientConn) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.current, m.conns[m.current]
}

func (m *multiConn) moveFrom(i int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.current == i {
		m.current = (i + 1) % len(m.conns)
	}
}

func (m *multiConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	if _, ok := ctx.Deadline(); !ok && m.retryWindow > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, m.retryWindow)
		defer cancel()
	}
	backoff := 10 * time.Millisecond
	for attempt := 0; ; attempt++ {
		i, cc := m.pick()
		err := rpcerr.FromStatus(cc.Invoke(ctx, method, args, reply, opts...))
		if err == nil || !errs.Is(err, errs.Unavailable) {
			return err
		}
		m.moveFrom(i)
		// One quick pass over the other nodes, then back off.
		if attempt+1 >= len(m.conns) {
			select {
			case <-ctx.Done():
				return errs.E("metaclient", errs.Unavailable, "gave up on "+method, err)
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 500*time.Millisecond)
		}
	}
}

func (m *multiConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	_, cc := m.pick()
	s, err := cc.NewStream(ctx, desc, method, opts...)
	return s, rpcerr.FromStatus(err)
}

func (m *multiConn) close() error {
	var errList []error
	for _, cc := range m.conns {
		errList = append(errList, cc.Close())
	}
	return errors.Join(errList...)
}
