package fsm

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/protobuf/proto"
)

// harness applies commands to an FSM the way raft would.
type harness struct {
	t   *testing.T
	f   *FSM
	dir string
	idx uint64
	now int64
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	dir := t.TempDir()
	f, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, f: f, dir: dir, now: 1000}
	t.Cleanup(func() { h.f.Close() })
	return h
}

func (h *harness) log(op Op, req proto.Message) *raft.Log {
	h.t.Helper()
	h.idx++
	h.now++
	c := &Command{Op: op, Now: h.now, ID: fmt.Sprintf("id%06d", h.idx), Req: req}
	data, err := c.Encode()
	if err != nil {
		h.t.Fatal(err)
	}
	return &raft.Log{Index: h.idx, Type: raft.LogCommand, Data: data}
}

// do applies one command and returns its response or error.
func (h *harness) do(op Op, req proto.Message) (proto.Message, error) {
	h.t.Helper()
	return result(h.f.Apply(h.log(op, req)))
}

func result(v any) (proto.Message, error) {
	switch v := v.(type) {
	case error:
		return nil, v
	case proto.Message:
		return v, nil
	}
	return nil, fmt.Errorf("unexpected apply result %T", v)
}

// must applies a command that has to succeed.
func (h *harness) must(op Op, req proto.Message) proto.Message {
	h.t.Helper()
	resp, err := h.do(op, req)
	if err != nil {
		h.t.Fatalf("%v: %v", op, err)
	}
	return resp
}

func (h *harness) bucket(name, versioning string) {
	h.t.Helper()
	h.must(OpCreateBucket, &metapb.CreateBucketRequest{Bucket: &metapb.Bucket{Name: name, Versioning: versioning}})
}

func (h *harness) put(bucket, key, etag, vid string) *metapb.PutObjectResponse {
	h.t.Helper()
	return h.must(OpPutObject, &metapb.PutObjectRequest{Object: &metapb.Object{
		Bucket: bucket, Key: key, Etag: etag, VersionId: vid, Size: int64(len(etag)),
	}}).(*metapb.PutObjectResponse)
}

var ctx = context.Background()

// memSink is a raft.SnapshotSink in memory.
type memSink struct {
	bytes.Buffer
	canceled bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { s.canceled = true; return nil }
func (s *memSink) Close() error  { return nil }

func snapshotBytes(t *testing.T, f *FSM) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil || sink.canceled {
		t.Fatalf("persist: %v (canceled %v)", err, sink.canceled)
	}
	return sink.Bytes()
}

func restore(f *FSM, b []byte) error { return f.Restore(io.NopCloser(bytes.NewReader(b))) }
