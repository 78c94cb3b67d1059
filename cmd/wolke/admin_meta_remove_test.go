package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/wolke-cloud/wolke/cluster"
)

func TestAdminMetaRemove(t *testing.T) {
	c := cluster.Start(t, cluster.Options{MetaNodes: 3, DiskSize: 64 << 20, Durability: cluster.DurabilityOptions{Manual: true}})
	target := []string{"--cluster", c.ClusterID(), "--etcd", strings.Join(c.EtcdEndpoints(), ",")}
	report := func() cluster.MetaReport {
		t.Helper()
		out, err := runAdmin(t, append([]string{"meta", "--json"}, target...)...)
		if err != nil {
			t.Fatalf("meta --json: %v\n%s", err, out)
		}
		var r cluster.MetaReport
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("meta --json: %v\n%s", err, out)
		}
		return r
	}
	remove := func(args ...string) (string, error) {
		return runAdmin(t, append(append([]string{"meta", "remove"}, args...), target...)...)
	}

	if r := report(); r.Healthy != 3 || len(r.Members) != 3 {
		t.Fatalf("three healthy members expected: %+v", r)
	}
	if out, err := runAdmin(t, append([]string{"meta"}, target...)...); err != nil || !strings.Contains(out, "3 of 3 members healthy") || !strings.Contains(out, "LAG") {
		t.Fatalf("meta table: %v\n%s", err, out)
	}
	if _, err := remove("nope"); err == nil || !strings.Contains(err.Error(), "not a meta member") {
		t.Fatalf("removing an unknown member: %v", err)
	}
	if _, err := remove("m1"); err == nil || !strings.Contains(err.Error(), "is healthy") {
		t.Fatalf("removing a healthy member without --force: %v", err)
	}

	if err := c.StopMeta(1); err != nil {
		t.Fatal(err)
	}
	r := report()
	for _, m := range r.Members {
		if m.ID == "m1" && (m.Reachable || m.Healthy || !strings.Contains(m.Problem, "unreachable")) {
			t.Fatalf("stopped m1 not shown unreachable: %+v", m)
		}
	}
	if r.Healthy != 2 {
		t.Fatalf("two healthy members expected: %+v", r)
	}
	if out, err := runAdmin(t, append([]string{"meta"}, target...)...); err != nil || !strings.Contains(out, "unreachable") {
		t.Fatalf("meta table with m1 down: %v\n%s", err, out)
	}
	if out, err := remove("m1"); err != nil || !strings.Contains(out, "removed m1") {
		t.Fatalf("removing stopped m1: %v\n%s", err, out)
	}
	if r := report(); len(r.Members) != 2 || r.Healthy != 2 {
		t.Fatalf("after removing m1: %+v", r)
	}

	// A healthy member goes only with --force; the last voter never.
	if _, err := remove("m2"); err == nil || !strings.Contains(err.Error(), "is healthy") {
		t.Fatalf("removing healthy m2 without --force: %v", err)
	}
	if out, err := remove("m2", "--force"); err != nil {
		t.Fatalf("removing m2 with --force: %v\n%s", err, out)
	}
	if err := c.StopMeta(2); err != nil {
		t.Fatal(err)
	}
	if r := report(); len(r.Members) != 1 || r.Members[0].ID != "m0" || !r.Members[0].Healthy {
		t.Fatalf("after removing m2: %+v", r)
	}
	if _, err := remove("m0", "--force"); err == nil || !strings.Contains(err.Error(), "last voter") {
		t.Fatalf("removing the last voter: %v", err)
	}
}
