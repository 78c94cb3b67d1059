package control

import (
	"context"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
)

func TestRegisterListClose(t *testing.T) {
	t.Parallel()
	e := startEtcd(t)
	ctx := testCtx(t)
	cli := e.Client()
	a, err := Register(ctx, cli, "c1", "chunk", "a", []byte("127.0.0.1:1"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Register(ctx, cli, "c1", "chunk", "b", []byte("127.0.0.1:2"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// Another kind and another cluster do not leak into the list.
	m1, err := Register(ctx, cli, "c1", "meta", "a", []byte("meta"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer m1.Close()
	o, err := Register(ctx, cli, "c2", "chunk", "z", []byte("other"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()

	if a.Key() != "/wolke/c1/chunk/a" {
		t.Errorf("Key = %q", a.Key())
	}
	got := members(t, cli, "c1", "chunk")
	if len(got) != 2 || string(got["a"]) != "127.0.0.1:1" || string(got["b"]) != "127.0.0.1:2" {
		t.Fatalf("List = %q, want a and b", got)
	}
	// Close revokes at once: no waiting for the TTL.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.Done():
	default:
		t.Fatal("Done not closed after Close")
	}
	got = members(t, cli, "c1", "chunk")
	if _, ok := got["a"]; ok || len(got) != 1 {
		t.Fatalf("after Close List = %q, want only b", got)
	}
	if err := a.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
}

func TestRegisterCancelRevokes(t *testing.T) {
	t.Parallel()
	e := startEtcd(t)
	ctx, cancel := context.WithCancel(testCtx(t))
	r, err := Register(ctx, e.Client(), "c", "gateway", "g1", []byte("x"), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	<-r.Done()
	if got := members(t, e.Client(), "c", "gateway"); len(got) != 0 {
		t.Fatalf("after cancel List = %q, want empty", got)
	}
}

func TestRegisterExpiresAfterCrash(t *testing.T) {
	t.Parallel()
	e := startEtcd(t)
	ctx := testCtx(t)
	crashing := dialTest(t, e)
	if _, err := Register(ctx, crashing, "c", "chunk", "dying", []byte("v"), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	// The process "crashes": its connection goes away, nothing is revoked.
	crashing.Close()
	if got := members(t, e.Client(), "c", "chunk"); len(got) != 1 {
		t.Fatalf("right after crash List = %q, want the key still there", got)
	}
	start := time.Now()
	eventually(t, 10*time.Second, "lease expiry", func() bool {
		return len(members(t, e.Client(), "c", "chunk")) == 0
	})
	t.Logf("key expired %v after the crash", time.Since(start))
}

func TestRegisterComesBackAfterLeaseLoss(t *testing.T) {
	t.Parallel()
	e := startEtcd(t)
	ctx := testCtx(t)
	r, err := Register(ctx, dialTest(t, e), "c", "chunk", "s1", []byte("v"), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	first := r.Lease()
	// Someone revokes the lease (as etcd does when it expires): the key goes,
	// and the registration puts it back under a new lease.
	if _, err := e.Client().Revoke(ctx, first); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "re-registration", func() bool {
		got := members(t, e.Client(), "c", "chunk")
		return string(got["s1"]) == "v" && r.Lease() != first
	})
}

func TestRegisterSurvivesEtcdRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := startEtcdIn(t, dir, "")
	proxy := startProxy(t, hostOf(e))
	ctx := testCtx(t)
	cli, err := Dial(ctx, []string{proxy.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	r, err := Register(ctx, cli, "c", "meta", "m1", []byte("v"), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	proxy.point("")
	e.Close()
	time.Sleep(3 * time.Second) // longer than the TTL: the client gives the lease up
	e2 := startEtcdIn(t, dir, "")
	proxy.point(hostOf(e2))
	eventually(t, 15*time.Second, "key back after restart", func() bool {
		return string(members(t, e2.Client(), "c", "meta")["m1"]) == "v"
	})
}

func TestRegisterValidates(t *testing.T) {
	t.Parallel()
	e := startEtcd(t)
	ctx := testCtx(t)
	for _, tc := range []struct{ cluster, kind, id string }{
		{"", "chunk", "a"},
		{"c", "", "a"},
		{"c", "chunk", ""},
		{"c", "chunk", "a/b"},
		{"c/x", "chunk", "a"},
	} {
		if _, err := Register(ctx, e.Client(), tc.cluster, tc.kind, tc.id, nil, time.Second); !errs.Is(err, errs.Invalid) {
			t.Errorf("Register(%q, %q, %q): err = %v, want Invalid", tc.cluster, tc.kind, tc.id, err)
		}
	}
	if _, err := Register(ctx, e.Client(), "c", "chunk", "a", nil, 0); !errs.Is(err, errs.Invalid) {
		t.Errorf("ttl 0: err = %v, want Invalid", err)
	}
	if _, err := List(ctx, e.Client(), "c", ""); !errs.Is(err, errs.Invalid) {
		t.Errorf("List empty kind: err = %v, want Invalid", err)
	}
}
