package chunkclient_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/chunk/chunkclient"
	"github.com/wolke-cloud/wolke/chunk/internal/wire"
	"github.com/wolke-cloud/wolke/internal/errs"
)

func fixed(addr string) func(context.Context, string) (string, error) {
	return func(context.Context, string) (string, error) { return addr, nil }
}

// fakeServer stores chunks in a map and can be told to misbehave.
type fakeServer struct {
	mu        sync.Mutex
	chunks    map[string][]byte
	badCRC    atomic.Int32 // answer this many GETs with a wrong CRC
	conns     atomic.Int32
	failKind  errs.Kind // answer every request with this kind, if set
	noKindHdr bool
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.failKind != errs.Other {
		if !f.noKindHdr {
			w.Header().Set(wire.HeaderKind, strconv.Itoa(int(f.failKind)))
		}
		w.WriteHeader(wire.Status(f.failKind))
		_, _ = io.WriteString(w, "told to fail")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.Method {
	case http.MethodPut:
		b, _ := io.ReadAll(r.Body)
		if wire.FormatCRC(wire.CRC32C(b)) != r.Header.Get(wire.HeaderCRC) {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.chunks[r.URL.Path] = b
		w.WriteHeader(http.StatusNoContent)
	case http.MethodGet:
		b, ok := f.chunks[r.URL.Path]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		crc := wire.CRC32C(b)
		if f.badCRC.Add(-1) >= 0 {
			crc++
		}
		w.Header().Set(wire.HeaderCRC, wire.FormatCRC(crc))
		_, _ = w.Write(b)
	}
}

func newFake(t *testing.T) (*fakeServer, string) {
	f := &fakeServer{chunks: map[string][]byte{}}
	srv := httptest.NewUnstartedServer(f)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			f.conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return f, srv.Listener.Addr().String()
}

func TestPooledRoundTrips(t *testing.T) {
	f, addr := newFake(t)
	c := chunkclient.New(fixed(addr), chunkclient.Options{})
	defer c.Close()
	ctx := context.Background()
	for i := range 20 {
		data := []byte("shard " + strconv.Itoa(i))
		if err := c.WriteShard(ctx, "d1", "c."+strconv.Itoa(i), data); err != nil {
			t.Fatal(err)
		}
		got, err := c.ReadShard(ctx, "d1", "c."+strconv.Itoa(i))
		if err != nil || string(got) != string(data) {
			t.Fatalf("ReadShard = %q, %v", got, err)
		}
	}
	// WriteShard asks for a stream first: the fake refuses it once (the
	// client does not ask again for a while), then HTTP keeps one
	// connection alive.
	if n := f.conns.Load(); n != 2 {
		t.Fatalf("%d connections for 40 sequential requests, want 2 (a refused stream, one kept alive)", n)
	}
}

func TestTransitCorruption(t *testing.T) {
	f, addr := newFake(t)
	c := chunkclient.New(fixed(addr), chunkclient.Options{})
	defer c.Close()
	ctx := context.Background()
	if err := c.WriteShard(ctx, "d1", "c1", []byte("payload")); err != nil {
		t.Fatal(err)
	}
	f.badCRC.Store(1) // one damaged answer: the retry succeeds
	if got, err := c.ReadShard(ctx, "d1", "c1"); err != nil || string(got) != "payload" {
		t.Fatalf("ReadShard after one bad answer = %q, %v", got, err)
	}
	f.badCRC.Store(2) // damaged twice: Corrupt
	if _, err := c.ReadShard(ctx, "d1", "c1"); !errs.Is(err, errs.Corrupt) {
		t.Fatalf("ReadShard with bad CRCs = %v, want Corrupt", err)
	}
}

func TestServerErrorKinds(t *testing.T) {
	cases := []struct {
		kind      errs.Kind
		noKindHdr bool
		want      errs.Kind
	}{
		{errs.NotFound, false, errs.NotFound},
		{errs.NoSpace, false, errs.NoSpace},
		{errs.Corrupt, false, errs.Corrupt},
		{errs.Invalid, false, errs.Invalid},
		{errs.Precondition, false, errs.Precondition},
		{errs.Unavailable, true, errs.Unavailable},
		{errs.NotFound, true, errs.NotFound},
	}
	for _, c := range cases {
		f, addr := newFake(t)
		f.failKind, f.noKindHdr = c.kind, c.noKindHdr
		cl := chunkclient.New(fixed(addr), chunkclient.Options{})
		if _, err := cl.ReadShard(context.Background(), "d1", "c1"); !errs.Is(err, c.want) {
			t.Errorf("server kind %v (header %v): ReadShard = %v, want %v", c.kind, !c.noKindHdr, err, c.want)
		}
		if err := cl.WriteShard(context.Background(), "d1", "c1", []byte("x")); !errs.Is(err, c.want) {
			t.Errorf("server kind %v: WriteShard = %v, want %v", c.kind, err, c.want)
		}
		cl.Close()
	}
}

func TestUnavailable(t *testing.T) {
	// Nothing listens on a port that was just released.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	_ = ln.Close()

	// A server that accepts and never answers.
	mute, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				_ = c.Close()
			}
		}()
		for {
			c, err := mute.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()

	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name    string
		ctx     context.Context
		resolve func(context.Context, string) (string, error)
		disk    string
		want    errs.Kind
	}{
		{"connection refused", context.Background(), fixed(closed), "d1", errs.Unavailable},
		{"server silent", context.Background(), fixed(mute.Addr().String()), "d1", errs.Unavailable},
		{"caller canceled", canceled, fixed(mute.Addr().String()), "d1", errs.Canceled},
		{"resolver: unknown disk", context.Background(), func(context.Context, string) (string, error) {
			return "", errs.E("resolve", errs.NotFound, "no such disk")
		}, "d1", errs.NotFound},
		{"resolver: plain error", context.Background(), func(context.Context, string) (string, error) {
			return "", errors.New("etcd down")
		}, "d1", errs.Unavailable},
		{"bad disk id", context.Background(), fixed(closed), "a/b", errs.Invalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl := chunkclient.New(c.resolve, chunkclient.Options{Timeout: 200 * time.Millisecond})
			defer cl.Close()
			if _, err := cl.ReadShard(c.ctx, c.disk, "c1"); !errs.Is(err, c.want) {
				t.Errorf("ReadShard = %v, want %v", err, c.want)
			}
			if err := cl.WriteShard(c.ctx, c.disk, "c1", []byte("x")); !errs.Is(err, c.want) {
				t.Errorf("WriteShard = %v, want %v", err, c.want)
			}
			if err := cl.DeleteShard(c.ctx, c.disk, "c1"); !errs.Is(err, c.want) {
				t.Errorf("DeleteShard = %v, want %v", err, c.want)
			}
		})
	}
}

// shards is the interface package core declares; the client must satisfy it.
type shards interface {
	WriteShard(ctx context.Context, diskID, chunkID string, data []byte) error
	ReadShard(ctx context.Context, diskID, chunkID string) ([]byte, error)
	DeleteShard(ctx context.Context, diskID, chunkID string) error
}

var _ shards = (*chunkclient.Client)(nil)
