package cluster

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// Without a quorum, Meta still reports what the surviving member sees,
// and RemoveMeta refuses.
func TestAdminMetaWithoutQuorum(t *testing.T) {
	c := Start(t, Options{MetaNodes: 3, DiskSize: 64 << 20, Durability: DurabilityOptions{Manual: true}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	adm, err := DialAdmin(ctx, c.EtcdEndpoints(), c.ClusterID())
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	adm.metaLeaderWait = 2 * time.Second
	if r, err := adm.Meta(ctx); err != nil || r.Healthy != 3 || r.Leader == "" || r.Problem != "" {
		t.Fatalf("healthy group: %+v %v", r, err)
	}
	for i := 1; i <= 2; i++ {
		if err := c.StopMeta(i); err != nil {
			t.Fatal(err)
		}
	}
	r, err := adm.Meta(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Leader != "" || !strings.Contains(r.Problem, "no meta leader") || len(r.Members) != 3 {
		t.Fatalf("report without quorum: %+v", r)
	}
	for _, m := range r.Members {
		if m.ID == "m0" != m.Reachable || m.Healthy {
			t.Errorf("member without quorum: %+v", m)
		}
	}
	if err := adm.RemoveMeta(ctx, "m1", true); !errs.Is(err, errs.Unavailable) || !strings.Contains(err.Error(), "through a leader") {
		t.Fatalf("remove without quorum: %v", err)
	}
}

// A node with an empty directory may not join under the id of a current
// member, nor bootstrap next to a live group; once the member is removed
// its id may join again, catching up from the others.
func TestMetaRejoinChecks(t *testing.T) {
	c := Start(t, Options{MetaNodes: 3, DiskSize: 64 << 20, Durability: DurabilityOptions{Manual: true}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	adm, err := DialAdmin(ctx, c.EtcdEndpoints(), c.ClusterID())
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	live := c.metas[0].ep.GRPC
	if err := c.StopMeta(1); err != nil {
		t.Fatal(err)
	}
	role := MetaRole{Cluster: c.ClusterID(), ID: "m1", Dir: t.TempDir(), RaftAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0",
		Etcd: c.EtcdEndpoints(), Join: []string{live}, Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry()}
	if err := checkRejoin(ctx, role); !errs.Is(err, errs.Precondition) || !strings.Contains(err.Error(), "still a member") {
		t.Fatalf("empty m1 joining while a member: %v", err)
	}
	boot := role
	boot.Join, boot.Bootstrap = nil, true
	if err := checkRejoin(ctx, boot); !errs.Is(err, errs.Precondition) || !strings.Contains(err.Error(), "second, empty") {
		t.Fatalf("empty m1 bootstrapping next to a live group: %v", err)
	}
	// A node with its state passes (a restart).
	withState := role
	withState.Dir = filepath.Join(c.dir, "meta", c.metaID(1)) // stopped: its store is free
	if err := checkRejoin(ctx, withState); err != nil {
		t.Fatalf("a node with state: %v", err)
	}

	if err := adm.RemoveMeta(ctx, "m1", false); err != nil {
		t.Fatal(err)
	}
	if err := checkRejoin(ctx, role); err != nil {
		t.Fatalf("m1 rejoining after its removal: %v", err)
	}
	rctx, rcancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- RunMeta(rctx, role) }()
	defer func() { rcancel(); <-done }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, err := adm.Meta(ctx)
		if err == nil && r.Healthy == 3 {
			for _, m := range r.Members {
				if m.ID == "m1" && m.Lag == 0 {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("m1 not back as a healthy member: %+v %v", r, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
