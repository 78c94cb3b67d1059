package metaclient

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/internal/rpcerr"
	"github.com/wolke-cloud/wolke/meta/metaerr"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/grpc"
)

// fakeMeta answers GetBucket with err, or with a bucket when err is nil.
type fakeMeta struct {
	metapb.UnimplementedMetaServer
	err   error
	calls atomic.Int32
}

func (f *fakeMeta) GetBucket(_ context.Context, req *metapb.GetBucketRequest) (*metapb.GetBucketResponse, error) {
	f.calls.Add(1)
	if f.err != nil {
		return nil, f.err
	}
	return &metapb.GetBucketResponse{Bucket: &metapb.Bucket{Name: req.Name}}, nil
}

func serve(t *testing.T, f *fakeMeta) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(rpcerr.UnaryServerInterceptor()))
	metapb.RegisterMetaServer(srv, f)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return ln.Addr().String()
}

// deadAddr is an address nobody listens on.
func deadAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestClient(t *testing.T) {
	notLeader := errs.E("meta.route", errs.Unavailable, "not the leader", metaerr.ErrNotLeader)
	tests := []struct {
		name    string
		servers []*fakeMeta // nil entry: a dead address
		kind    errs.Kind   // Other: success
		reason  error
		timeout time.Duration
	}{
		{name: "ok", servers: []*fakeMeta{{}}},
		{name: "dead node first", servers: []*fakeMeta{nil, {}}},
		{name: "unavailable node first", servers: []*fakeMeta{{err: notLeader}, {}}},
		{name: "not found is not retried", servers: []*fakeMeta{{err: errs.E("meta.GetBucket", errs.NotFound, "bucket x", metaerr.ErrNoSuchBucket)}, {}},
			kind: errs.NotFound, reason: metaerr.ErrNoSuchBucket},
		{name: "all unavailable until deadline", servers: []*fakeMeta{{err: notLeader}, nil}, kind: errs.Unavailable, timeout: 300 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var addrs []string
			for _, s := range tc.servers {
				if s == nil {
					addrs = append(addrs, deadAddr(t))
				} else {
					addrs = append(addrs, serve(t, s))
				}
			}
			c, err := Dial(context.Background(), addrs, WithRetryWindow(5*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx := context.Background()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			start := time.Now()
			resp, err := c.GetBucket(ctx, &metapb.GetBucketRequest{Name: "x"})
			if tc.kind == errs.Other {
				if err != nil || resp.Bucket.Name != "x" {
					t.Fatalf("GetBucket: %v, %v", resp, err)
				}
				return
			}
			if !errs.Is(err, tc.kind) {
				t.Fatalf("err %v (kind %v), want %v", err, errs.KindOf(err), tc.kind)
			}
			if tc.reason != nil && !errors.Is(err, tc.reason) {
				t.Fatalf("err %v, want reason %v", err, tc.reason)
			}
			if tc.kind == errs.NotFound && tc.servers[1].calls.Load() != 0 {
				t.Fatal("a NotFound answer was retried on another node")
			}
			if tc.timeout > 0 && time.Since(start) > tc.timeout+time.Second {
				t.Fatalf("retried past the deadline: %v", time.Since(start))
			}
		})
	}
	if _, err := Dial(context.Background(), nil); !errs.Is(err, errs.Invalid) {
		t.Fatalf("Dial without addresses: %v", err)
	}
}

// The client must stay light: no server packages, no storage engines.
func TestImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := []string{
		"github.com/wolke-cloud/wolke/meta\n",
		"github.com/wolke-cloud/wolke/meta/fsm",
		"github.com/wolke-cloud/wolke/meta/raftstore",
		"github.com/cockroachdb/pebble",
		"github.com/hashicorp/raft",
	}
	deps := string(out)
	for _, f := range forbidden {
		if strings.Contains(deps, f) {
			t.Errorf("metaclient depends on %s", strings.TrimSpace(f))
		}
	}
}
