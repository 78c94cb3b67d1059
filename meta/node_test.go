package meta

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metaclient"
	"github.com/wolke-cloud/wolke/meta/metaerr"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// testNode is a node serving on real listeners.
type testNode struct {
	*Node
	id, dir  string
	raftAddr string
	grpcAddr string
	reg      *prometheus.Registry
	cancel   context.CancelFunc
	done     chan error
	stopOnce sync.Once
}

type nodeOpt func(*Config)

func listen(t testing.TB, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // a restarted node takes its old port back
		if ln, err = net.Listen("tcp", addr); err == nil {
			return ln
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal(err)
	return nil
}

// startNode starts a node in dir; raftAddr "" picks a fresh port.
func startNode(t testing.TB, id, dir, raftAddr string, bootstrap bool, opts ...nodeOpt) *testNode {
	t.Helper()
	if raftAddr == "" {
		raftAddr = "127.0.0.1:0"
	}
	rln := listen(t, raftAddr)
	gln := listen(t, "127.0.0.1:0")
	cfg := Config{ID: id, Dir: dir, RaftListener: rln, Bootstrap: bootstrap}
	cfg.SetFastTimeouts()
	for _, o := range opts {
		o(&cfg)
	}
	reg := prometheus.NewRegistry()
	logger := slog.New(slog.DiscardHandler)
	if os.Getenv("WOLKE_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	n, err := New(cfg, Deps{Registry: reg, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tn := &testNode{Node: n, id: id, dir: dir, raftAddr: rln.Addr().String(), grpcAddr: gln.Addr().String(), reg: reg, cancel: cancel, done: make(chan error, 1)}
	go func() { tn.done <- n.Serve(ctx, gln) }()
	t.Cleanup(tn.stop)
	return tn
}

func (tn *testNode) stop() {
	tn.stopOnce.Do(func() {
		tn.cancel()
		_ = tn.Close()
		<-tn.done
	})
}

func waitLeader(t testing.TB, nodes ...*testNode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, n := range nodes {
		if err := n.WaitLeader(ctx); err != nil {
			t.Fatalf("%s: %v", n.id, err)
		}
	}
}

func dial(t testing.TB, nodes ...*testNode) *metaclient.Client {
	t.Helper()
	var addrs []string
	for _, n := range nodes {
		addrs = append(addrs, n.grpcAddr)
	}
	c, err := metaclient.Dial(context.Background(), addrs, metaclient.WithRetryWindow(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func tctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestSingleNodeCRUD(t *testing.T) {
	n := startNode(t, "n1", t.TempDir(), "", true)
	waitLeader(t, n)
	c := dial(t, n)
	ctx := tctx(t)

	if _, err := c.CreateBucket(ctx, &metapb.CreateBucketRequest{Bucket: &metapb.Bucket{Name: "bk"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetBucketVersioning(ctx, &metapb.SetBucketVersioningRequest{Name: "bk", Versioning: "Enabled"}); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateBucket(ctx, &metapb.CreateBucketRequest{Bucket: &metapb.Bucket{Name: "bk"}})
	if !errs.Is(err, errs.Exists) || !errors.Is(err, metaerr.ErrBucketExists) {
		t.Fatalf("create again: %v", err)
	}
	put, err := c.PutObject(ctx, &metapb.PutObjectRequest{Object: &metapb.Object{Bucket: "bk", Key: "k", Etag: `"e1"`, Size: 3, Inline: []byte("abc")}})
	if err != nil {
		t.Fatal(err)
	}
	if put.Object.VersionId == "" || put.Object.VersionId == "null" || put.Object.MtimeUnixNano == 0 {
		t.Fatalf("server did not fill version id / mtime: %v", put.Object)
	}
	got, err := c.GetObject(ctx, &metapb.GetObjectRequest{Bucket: "bk", Key: "k"})
	if err != nil || string(got.Object.Inline) != "abc" || !got.Object.IsLatest {
		t.Fatalf("get: %v %v", got, err)
	}
	list, err := c.ListObjects(ctx, &metapb.ListObjectsRequest{Bucket: "bk"})
	if err != nil || len(list.Objects) != 1 {
		t.Fatalf("list: %v %v", list, err)
	}
	del, err := c.DeleteObject(ctx, &metapb.DeleteObjectRequest{Bucket: "bk", Key: "k"})
	if err != nil || del.DeleteMarker == nil || del.DeleteMarker.VersionId == "" {
		t.Fatalf("delete: %v %v", del, err)
	}
	if _, err := c.GetObject(ctx, &metapb.GetObjectRequest{Bucket: "bk", Key: "k"}); !errors.Is(err, metaerr.ErrNoSuchKey) {
		t.Fatalf("get deleted: %v", err)
	}
	_, err = c.DeleteBucket(ctx, &metapb.DeleteBucketRequest{Name: "bk"})
	if !errs.Is(err, errs.Precondition) || !errors.Is(err, metaerr.ErrBucketNotEmpty) {
		t.Fatalf("delete non-empty bucket: %v", err)
	}

	// Multipart: the server picks the upload id; reasons cross the wire.
	cu, err := c.CreateUpload(ctx, &metapb.CreateUploadRequest{Upload: &metapb.Upload{Bucket: "bk", Key: "mp"}})
	if err != nil || cu.Upload.UploadId == "" {
		t.Fatalf("create upload: %v %v", cu, err)
	}
	id := cu.Upload.UploadId
	for i := int32(1); i <= 2; i++ {
		etag := fmt.Sprintf(`"%032x"`, i)
		if _, err := c.PutPart(ctx, &metapb.PutPartRequest{Bucket: "bk", Key: "mp", UploadId: id, Part: &metapb.Part{Number: i, Etag: etag, Size: 10}}); err != nil {
			t.Fatal(err)
		}
	}
	parts := []*metapb.CompletedPart{{Number: 2, Etag: fmt.Sprintf(`"%032x"`, 2)}, {Number: 1, Etag: fmt.Sprintf(`"%032x"`, 1)}}
	_, err = c.CompleteUpload(ctx, &metapb.CompleteUploadRequest{Bucket: "bk", Key: "mp", UploadId: id, Parts: parts})
	if !errs.Is(err, errs.Invalid) || !errors.Is(err, metaerr.ErrInvalidPartOrder) {
		t.Fatalf("complete out of order: %v", err)
	}
	parts[0], parts[1] = parts[1], parts[0]
	done, err := c.CompleteUpload(ctx, &metapb.CompleteUploadRequest{Bucket: "bk", Key: "mp", UploadId: id, Parts: parts, MinPartSize: 5})
	if err != nil || done.Object.Size != 20 || done.Object.MtimeUnixNano == 0 {
		t.Fatalf("complete: %v %v", done, err)
	}

	// Disks and placement groups.
	for i := range 6 {
		d := &metapb.Disk{Id: fmt.Sprintf("d%d", i), Server: fmt.Sprintf("s%d", i), Zone: fmt.Sprintf("z%d", i%3)}
		if _, err := c.RegisterDisk(ctx, &metapb.RegisterDiskRequest{Disk: d}); err != nil {
			t.Fatal(err)
		}
	}
	pgs, err := c.EnsurePlacementGroups(ctx, &metapb.EnsurePlacementGroupsRequest{EcData: 4, EcParity: 2})
	if err != nil || len(pgs.Groups) != 6 {
		t.Fatalf("placement groups: %v %v", pgs, err)
	}
	mem, err := c.Members(ctx, &metapb.MembersRequest{})
	if err != nil || len(mem.Members) != 1 || !mem.Members[0].Leader || mem.CommitIndex == 0 {
		t.Fatalf("members: %v %v", mem, err)
	}
	if v := counter(t, n.metrics.applied.WithLabelValues("PutObject", "ok")); v != 1 {
		t.Fatalf("applied PutObject metric = %v", v)
	}
}

// putKeys writes count objects key-000.. through c and returns their etags.
func putKeys(t testing.TB, c metapb.MetaClient, bucket string, from, count int) {
	t.Helper()
	ctx := tctx(t)
	for i := from; i < from+count; i++ {
		k := fmt.Sprintf("key-%03d", i)
		if _, err := c.PutObject(ctx, &metapb.PutObjectRequest{Object: &metapb.Object{Bucket: bucket, Key: k, Etag: `"` + k + `"`}}); err != nil {
			t.Fatalf("put %s: %v", k, err)
		}
	}
}

func checkKeys(t testing.TB, c metapb.MetaClient, bucket string, count int) {
	t.Helper()
	ctx := tctx(t)
	for i := range count {
		k := fmt.Sprintf("key-%03d", i)
		got, err := c.GetObject(ctx, &metapb.GetObjectRequest{Bucket: bucket, Key: k})
		if err != nil || got.Object.Etag != `"`+k+`"` {
			t.Fatalf("get %s: %v %v", k, got, err)
		}
	}
	list, err := c.ListObjects(ctx, &metapb.ListObjectsRequest{Bucket: bucket})
	if err != nil || len(list.Objects) != count {
		t.Fatalf("list: %d objects, %v; want %d", len(list.GetObjects()), err, count)
	}
}

func counter(t testing.TB, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
