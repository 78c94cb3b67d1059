package cluster

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/chunk/chunkclient"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// TestLocalChunkCalls: the cluster's chunk clients hand requests to its
// in-process chunk servers (none over TCP), found through the resolver;
// a stopped server is Unavailable to them as over the network, and the
// resolver forgets it at once.
func TestLocalChunkCalls(t *testing.T) {
	c := Start(t, Options{DiskSize: 64 << 20, Durability: DurabilityOptions{Off: true}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := newDiskResolver(ctx, c.etcdCl, c.st.ClusterID)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	disk := c.chunks[0].srv.Disks()[0].ID
	addr, err := res.Resolve(ctx, disk)
	if err != nil {
		t.Fatal(err)
	}
	if c.local.lookup(addr) == nil {
		t.Fatalf("chunk server at %s not registered as local", addr)
	}
	// A client resolving through the cluster, and one pinned to the
	// address, as a client that resolved before the server stopped.
	cli := chunkclient.New(res.Resolve, c.local.options())
	defer cli.Close()
	pinned := chunkclient.New(func(context.Context, string) (string, error) { return addr, nil }, c.local.options())
	defer pinned.Close()
	data := bytes.Repeat([]byte{5}, 16<<10)
	if err := cli.WriteShard(ctx, disk, "k1", data); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4096)
	for _, cl := range []*chunkclient.Client{cli, pinned} {
		if _, err := cl.ReadShardRangeInto(ctx, disk, "k1", 4096, got); err != nil || !bytes.Equal(got, data[4096:8192]) {
			t.Fatalf("read: %v", err)
		}
	}
	if cli.LocalCalls() != 2 || pinned.LocalCalls() != 1 {
		t.Fatalf("local calls %d and %d, want 2 and 1", cli.LocalCalls(), pinned.LocalCalls())
	}
	if err := c.StopChunk(0); err != nil {
		t.Fatal(err)
	}
	if c.local.lookup(addr) != nil {
		t.Fatal("stopped chunk server still registered as local")
	}
	for name, cl := range map[string]*chunkclient.Client{"resolving": cli, "pinned": pinned} {
		if _, err := cl.ReadShardRangeInto(ctx, disk, "k1", 0, got); errs.KindOf(err) != errs.Unavailable {
			t.Errorf("%s client, stopped server: %v, want Unavailable", name, err)
		}
	}
}
