package main

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/cluster"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

func TestAdminMetaAndDurability(t *testing.T) {
	c := cluster.Start(t, cluster.Options{MetaNodes: 3, DiskSize: 64 << 20, DataShards: 4, ParityShards: 2,
		Durability: cluster.DurabilityOptions{Manual: true}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.Meta().EnsurePlacementGroups(ctx, &metapb.EnsurePlacementGroupsRequest{EcData: 4, EcParity: 2}); err != nil {
		t.Fatal(err)
	}
	etcd := strings.Join(c.EtcdEndpoints(), ",")

	out, err := runAdmin(t, "meta", "--cluster", c.ClusterID(), "--etcd", etcd, "--json")
	if err != nil {
		t.Fatalf("meta --json: %v\n%s", err, out)
	}
	var m cluster.MetaReport
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("meta --json: %v\n%s", err, out)
	}
	leaders := 0
	for _, mm := range m.Members {
		if mm.Leader {
			leaders++
			if mm.ID != m.Leader {
				t.Errorf("leader %q but member %q is flagged", m.Leader, mm.ID)
			}
		}
	}
	if len(m.Members) != 3 || leaders != 1 || m.CommitIndex == 0 {
		t.Fatalf("meta report of three nodes: %+v", m)
	}
	if out, err := runAdmin(t, "meta", "--cluster", c.ClusterID(), "--etcd", etcd); err != nil || !strings.Contains(out, "leader "+m.Leader) {
		t.Fatalf("meta table: %v\n%s", err, out)
	}

	out, err = runAdmin(t, "durability", "--cluster", c.ClusterID(), "--etcd", etcd, "--json", "--afr", "0.05", "--repair-mbps", "40")
	if err != nil {
		t.Fatalf("durability --json: %v\n%s", err, out)
	}
	var d durabilityReport
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("durability --json: %v\n%s", err, out)
	}
	p := d.Params
	if p.DataShards != 4 || p.ParityShards != 2 || p.Disks != 6 || p.AFR != 0.05 || p.RepairMBps != 40 || d.RepairFrom != "flag" {
		t.Fatalf("durability inputs of a 6-disk 4+2 cluster: %+v (%s)", p, d.RepairFrom)
	}
	if !(d.Estimate.MTTDLYears > 0) || math.IsInf(d.Estimate.MTTDLYears, 0) || len(d.References) != 3 {
		t.Fatalf("estimate %+v, references %d", d.Estimate, len(d.References))
	}
	// Wider codes with more parity last longer on the same 100 disks.
	for i := 1; i < len(d.References); i++ {
		if d.References[i].Estimate.MTTDLYears <= d.References[i-1].Estimate.MTTDLYears || d.References[i].Params.Disks != 100 {
			t.Errorf("reference %s: %+v", d.References[i].Code, d.References[i].Estimate)
		}
	}
	if out, err := runAdmin(t, "durability", "--cluster", c.ClusterID(), "--etcd", etcd); err != nil || !strings.Contains(out, "10+4") {
		t.Fatalf("durability table: %v\n%s", err, out)
	}
}
