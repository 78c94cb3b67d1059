package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/cluster"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

func runAdmin(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := adminCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestAdminStatus(t *testing.T) {
	dir := t.TempDir()
	c := cluster.Start(t, cluster.Options{Dir: dir, DiskSize: 64 << 20,
		Durability: cluster.DurabilityOptions{Manual: true}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.Meta().EnsurePlacementGroups(ctx, &metapb.EnsurePlacementGroupsRequest{EcData: 4, EcParity: 2}); err != nil {
		t.Fatal(err)
	}
	if err := c.Repair().Pass(ctx); err != nil {
		t.Fatal(err)
	}
	etcd := strings.Join(c.EtcdEndpoints(), ",")

	out, err := runAdmin(t, "status", "--cluster", c.ClusterID(), "--etcd", etcd, "--json")
	if err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	var r cluster.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("status --json is not a report: %v\n%s", err, out)
	}
	if !r.Healthy || len(r.Servers) != 6 || len(r.Disks) != 6 || len(r.Groups) == 0 || r.Durability == nil {
		t.Fatalf("report of a fresh cluster: %+v", r)
	}
	for _, d := range r.Disks {
		if !d.Up || d.State != "active" || d.Used < 0 {
			t.Fatalf("disk %+v of a fresh cluster", d)
		}
	}
	// The dev data directory finds the same cluster; the table names it.
	if out, err := runAdmin(t, "status", "--dir", dir, "--wait-healthy", "5s"); err != nil || !strings.Contains(out, "HEALTHY") {
		t.Fatalf("status --dir --wait-healthy: %v\n%s", err, out)
	}

	// A server down: not healthy, and --wait-healthy gives up.
	if err := c.StopChunk(2); err != nil {
		t.Fatal(err)
	}
	out, err = runAdmin(t, "status", "--cluster", c.ClusterID(), "--etcd", etcd, "--wait-healthy", "1ms")
	t.Logf("status with a server down:\n%s", out)
	if err == nil || !strings.Contains(out, "NOT HEALTHY") {
		t.Fatalf("status with a server down: err %v\n%s", err, out)
	}
}
