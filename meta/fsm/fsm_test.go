package fsm

import (
	"context"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

func TestCommandRoundTrip(t *testing.T) {
	c := &Command{Op: OpPutObject, Now: -5, ID: "abc", Req: &metapb.PutObjectRequest{Object: &metapb.Object{Key: "k"}, IfMatch: "x"}}
	b, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeCommand(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Op != c.Op || got.Now != c.Now || got.ID != c.ID || got.Req.(*metapb.PutObjectRequest).Object.Key != "k" {
		t.Fatalf("got %+v", got)
	}
	for _, bad := range [][]byte{nil, {9, 1}, {1, 200, 0, 0}, b[:3]} {
		if _, err := DecodeCommand(bad); !errs.Is(err, errs.Corrupt) {
			t.Errorf("DecodeCommand(%v) = %v", bad, err)
		}
	}
}

// Entries raft hands over again after a restart are not applied twice.
func TestReplayAfterReopen(t *testing.T) {
	h := newHarness(t)
	h.bucket("bk", "Enabled")
	logs := []*raft.Log{
		h.log(OpPutObject, &metapb.PutObjectRequest{Object: &metapb.Object{Bucket: "bk", Key: "k", VersionId: "v1"}}),
		h.log(OpPutObject, &metapb.PutObjectRequest{Object: &metapb.Object{Bucket: "bk", Key: "k", VersionId: "v2"}}),
	}
	for _, r := range h.f.ApplyBatch(logs) {
		if err, ok := r.(error); ok {
			t.Fatal(err)
		}
	}
	if h.f.Applied() != 3 {
		t.Fatalf("applied %d", h.f.Applied())
	}
	h.f.Close()
	f, err := Open(h.dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	h.f = f
	if f.Applied() != 3 {
		t.Fatalf("applied after reopen %d", f.Applied())
	}
	// Raft replays from its last snapshot: here everything.
	for _, r := range f.ApplyBatch(logs) {
		if r != nil {
			t.Fatalf("replayed entry applied again: %v", r)
		}
	}
	if got := versionIDs(t, h, "bk", "k"); len(got) != 2 {
		t.Fatalf("versions after replay %v", got)
	}
	// A configuration entry moves the applied index without a command.
	h.idx++
	f.ApplyBatch([]*raft.Log{{Index: h.idx, Type: raft.LogConfiguration}})
	if f.Applied() != h.idx {
		t.Fatalf("applied %d after configuration entry %d", f.Applied(), h.idx)
	}
}

// A failed command in a batch leaves nothing behind; later commands see
// earlier ones.
func TestBatchIsolation(t *testing.T) {
	h := newHarness(t)
	logs := []*raft.Log{
		h.log(OpCreateBucket, &metapb.CreateBucketRequest{Bucket: &metapb.Bucket{Name: "bk"}}),
		h.log(OpPutObject, &metapb.PutObjectRequest{Object: &metapb.Object{Bucket: "bk", Key: "a", Etag: "1"}}),
		// Completes nothing (no such upload) after an earlier write.
		h.log(OpCompleteUpload, &metapb.CompleteUploadRequest{Bucket: "bk", Key: "a", UploadId: "u"}),
		// Conditional put that fails because "a" exists (written above).
		h.log(OpPutObject, &metapb.PutObjectRequest{Object: &metapb.Object{Bucket: "bk", Key: "a", Etag: "2"}, IfNoneMatch: "*"}),
		h.log(OpPutObject, &metapb.PutObjectRequest{Object: &metapb.Object{Bucket: "bk", Key: "b", Etag: "3"}}),
	}
	res := h.f.ApplyBatch(logs)
	wantErr := []bool{false, false, true, true, false}
	for i, r := range res {
		_, isErr := r.(error)
		if isErr != wantErr[i] {
			t.Fatalf("result %d = %v", i, r)
		}
	}
	got, err := h.f.GetObject(ctx, &metapb.GetObjectRequest{Bucket: "bk", Key: "a"})
	if err != nil || got.Object.Etag != "1" {
		t.Fatalf("a = %v, %v", got, err)
	}
	if _, err := h.f.GetObject(ctx, &metapb.GetObjectRequest{Bucket: "bk", Key: "b"}); err != nil {
		t.Fatal(err)
	}
}

func TestSnapshotRestore(t *testing.T) {
	src := listHarness(t)
	src.must(OpRegisterDisk, &metapb.RegisterDiskRequest{Disk: &metapb.Disk{Id: "d1", Server: "s1"}})
	src.must(OpSetMember, &metapb.Member{Id: "n1", RaftAddr: "r", GrpcAddr: "g"})
	snap := snapshotBytes(t, src.f)
	// Writes after the snapshot are not in it.
	src.put("bk", "later", `"e"`, "vlater")

	dst := newHarness(t)
	dst.bucket("old", "") // state that the restore must discard
	if err := restore(dst.f, snap); err != nil {
		t.Fatal(err)
	}
	if dst.f.Applied() != src.idx-1 {
		t.Fatalf("applied %d, want %d", dst.f.Applied(), src.idx-1)
	}
	want, _ := src.f.ListObjectVersions(ctx, &metapb.ListObjectVersionsRequest{Bucket: "bk", Prefix: "a"})
	got, err := dst.f.ListObjectVersions(ctx, &metapb.ListObjectVersionsRequest{Bucket: "bk", Prefix: "a"})
	if err != nil || len(got.Versions) != len(want.Versions) || len(got.Versions) == 0 {
		t.Fatalf("versions %v, want %v (%v)", got, want, err)
	}
	if _, err := dst.f.GetBucket(ctx, &metapb.GetBucketRequest{Name: "old"}); !errs.Is(err, errs.NotFound) {
		t.Fatalf("old state survived restore: %v", err)
	}
	if _, err := dst.f.GetObject(ctx, &metapb.GetObjectRequest{Bucket: "bk", Key: "later"}); !errs.Is(err, errs.NotFound) {
		t.Fatalf("later write in snapshot: %v", err)
	}
	if m, err := dst.f.Member(ctx, "n1"); err != nil || m.GrpcAddr != "g" {
		t.Fatalf("member %v %v", m, err)
	}
	// The restored state survives a reopen.
	dst.f.Close()
	f, err := Open(dst.dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	dst.f = f
	if f.Applied() != src.idx-1 {
		t.Fatalf("applied after reopen %d", f.Applied())
	}

	// A state newer than the snapshot keeps itself (raft restores the
	// latest snapshot on every start).
	if err := restore(src.f, snap); err != nil {
		t.Fatal(err)
	}
	if _, err := src.f.GetObject(ctx, &metapb.GetObjectRequest{Bucket: "bk", Key: "later"}); err != nil {
		t.Fatalf("newer state replaced by older snapshot: %v", err)
	}

	// Damaged snapshots are refused.
	bad := append([]byte(nil), snap...)
	bad[len(bad)/2] ^= 0xff
	fresh := newHarness(t)
	if err := restore(fresh.f, bad); !errs.Is(err, errs.Corrupt) {
		t.Fatalf("restore of damaged snapshot: %v", err)
	}
	if err := restore(fresh.f, snap[:5]); !errs.Is(err, errs.Corrupt) {
		t.Fatalf("restore of truncated snapshot: %v", err)
	}
}

// An interrupted restore is detected on open and the state wiped, so raft
// restores the snapshot again.
func TestInterruptedRestore(t *testing.T) {
	h := newHarness(t)
	h.bucket("bk", "")
	if err := h.f.db.Set(keyRestoring, []byte{1}, nil); err != nil {
		t.Fatal(err)
	}
	h.f.Close()
	f, err := Open(h.dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	h.f = f
	if f.Applied() != 0 {
		t.Fatalf("applied %d after interrupted restore", f.Applied())
	}
	if _, err := f.GetBucket(ctx, &metapb.GetBucketRequest{Name: "bk"}); !errs.Is(err, errs.NotFound) {
		t.Fatalf("state kept: %v", err)
	}
	if _, found, _ := getRaw(f.db, keyRestoring); found {
		t.Fatal("restoring marker left behind")
	}
}

func TestWaitApplied(t *testing.T) {
	h := newHarness(t)
	done := make(chan error, 1)
	go func() { done <- h.f.WaitApplied(ctx, 2) }()
	h.bucket("a", "")
	h.bucket("b", "")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestReadAfterClose: a reader on its own goroutine that comes after Close
// gets Unavailable, not a panic from the closed database.
func TestReadAfterClose(t *testing.T) {
	f, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Member(context.Background(), "m0"); !errs.Is(err, errs.Unavailable) {
		t.Fatalf("Member after Close = %v, want Unavailable", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
