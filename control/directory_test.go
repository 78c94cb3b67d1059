package control

import (
	"context"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
)

func TestWatchSeesAddAndRemove(t *testing.T) {
	t.Parallel()
	e := startEtcd(t)
	ctx := testCtx(t)
	cli := e.Client()
	pre, err := Register(ctx, cli, "c", "chunk", "pre", []byte("p"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer pre.Close()

	wctx, stop := context.WithCancel(ctx)
	views := make(chan map[string][]byte, 16)
	returned := make(chan error, 1)
	go func() { returned <- Watch(wctx, cli, "c", "chunk", func(m map[string][]byte) { views <- m }) }()

	next := func(want string) map[string][]byte {
		t.Helper()
		select {
		case m := <-views:
			return m
		case <-time.After(10 * time.Second):
			t.Fatalf("no watch callback (waiting for %s)", want)
			return nil
		}
	}
	if m := next("initial"); len(m) != 1 || string(m["pre"]) != "p" {
		t.Fatalf("initial view = %q, want {pre}", m)
	}
	a, err := Register(ctx, cli, "c", "chunk", "a", []byte("addr-a"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if m := next("add"); len(m) != 2 || string(m["a"]) != "addr-a" {
		t.Fatalf("after add view = %q, want pre and a", m)
	}
	// Other kinds do not wake the watcher.
	g, err := Register(ctx, cli, "c", "gateway", "g", nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	a.Close()
	if m := next("remove"); len(m) != 1 || m["a"] != nil {
		t.Fatalf("after remove view = %q, want only pre", m)
	}
	stop()
	select {
	case err := <-returned:
		if err != nil {
			t.Fatalf("Watch returned %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return after cancel")
	}
}

func TestDirectoryLookupAndWait(t *testing.T) {
	t.Parallel()
	e := startEtcd(t)
	ctx := testCtx(t)
	cli := e.Client()
	s1, err := Register(ctx, cli, "c", "chunk", "s1", []byte("127.0.0.1:7001"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDirectory(ctx, cli, "c", "chunk")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if v, ok := d.Lookup("s1"); !ok || string(v) != "127.0.0.1:7001" {
		t.Fatalf("Lookup(s1) = %q, %v", v, ok)
	}
	if _, ok := d.Lookup("s2"); ok {
		t.Fatal("Lookup(s2) found a member that does not exist")
	}

	// Wait blocks until the member registers.
	got := make(chan []byte, 1)
	go func() {
		v, err := d.Wait(ctx, "s2")
		if err != nil {
			t.Error(err)
		}
		got <- v
	}()
	time.Sleep(100 * time.Millisecond)
	s2, err := Register(ctx, cli, "c", "chunk", "s2", []byte("127.0.0.1:7002"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	select {
	case v := <-got:
		if string(v) != "127.0.0.1:7002" {
			t.Fatalf("Wait(s2) = %q", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait(s2) did not return")
	}

	// A departure shows up too.
	changed := d.Changed()
	s1.Close()
	eventually(t, 10*time.Second, "s1 gone from the directory", func() bool {
		_, ok := d.Lookup("s1")
		return !ok
	})
	select {
	case <-changed:
	default:
		t.Fatal("Changed not closed after a change")
	}
	if m := d.Members(); len(m) != 1 || string(m["s2"]) != "127.0.0.1:7002" {
		t.Fatalf("Members = %q, want only s2", m)
	}

	// Wait for a member that never comes ends with ctx: NotFound.
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := d.Wait(short, "never"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("Wait(never) err = %v, want NotFound", err)
	}
	d.Close()
	if _, err := d.Wait(ctx, "never"); !errs.Is(err, errs.Unavailable) {
		t.Fatalf("Wait after Close err = %v, want Unavailable", err)
	}
}

func TestDirectoryResumesAfterEtcdRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := startEtcdIn(t, dir, "")
	proxy := startProxy(t, hostOf(e))
	ctx := testCtx(t)
	watcher, err := Dial(ctx, []string{proxy.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close()
	d, err := NewDirectory(ctx, watcher, "c", "chunk")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	proxy.point("")
	e.Close()

	e2 := startEtcdIn(t, dir, "")
	proxy.point(hostOf(e2))
	r, err := Register(ctx, e2.Client(), "c", "chunk", "late", []byte("v"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := d.Wait(ctx, "late"); err != nil {
		t.Fatalf("Wait(late) after etcd restart: %v", err)
	}
}
