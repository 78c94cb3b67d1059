package control

import (
	"strings"
	"testing"

	"github.com/wolke-cloud/wolke/internal/errs"
)

func TestEmbeddedKeepsDataAcrossRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := startEtcdIn(t, dir, "")
	eps := e.Endpoints()
	if len(eps) != 1 || !strings.HasPrefix(eps[0], "http://127.0.0.1:") || strings.HasSuffix(eps[0], ":0") {
		t.Fatalf("Endpoints = %v, want one http://127.0.0.1:<port>", eps)
	}
	ctx := testCtx(t)
	if _, err := e.Client().Put(ctx, "/wolke/test/k", "v1"); err != nil {
		t.Fatal(err)
	}
	// A separate client through Dial sees the same data.
	cli := dialTest(t, e)
	resp, err := cli.Get(ctx, "/wolke/test/k")
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v1" {
		t.Fatalf("Get via Dial = %v, %v", resp, err)
	}
	cli.Close()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil { // idempotent
		t.Fatal(err)
	}

	e2 := startEtcdIn(t, dir, "")
	resp, err = e2.Client().Get(ctx, "/wolke/test/k")
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v1" {
		t.Fatalf("after restart Get = %v, %v", resp, err)
	}
}

func TestStartEmbeddedValidates(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	if _, err := StartEmbedded(ctx, EmbedConfig{}); !errs.Is(err, errs.Invalid) {
		t.Errorf("empty Dir: err = %v, want Invalid", err)
	}
	if _, err := StartEmbedded(ctx, EmbedConfig{Dir: t.TempDir(), ClientAddr: "nonsense"}); !errs.Is(err, errs.Invalid) {
		t.Errorf("bad ClientAddr: err = %v, want Invalid", err)
	}
}

func TestDialFailsWithoutServer(t *testing.T) {
	t.Parallel()
	// A port that was free a moment ago: nothing listens there.
	addr, _, err := resolveAddr("", "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	ctx, cancel := contextWithTimeout(ctx, 500)
	defer cancel()
	if _, err := Dial(ctx, []string{"http://" + addr}); !errs.Is(err, errs.Unavailable) {
		t.Fatalf("Dial to nothing: err = %v, want Unavailable", err)
	}
	if _, err := Dial(ctx, nil); !errs.Is(err, errs.Invalid) {
		t.Fatalf("Dial(nil): err = %v, want Invalid", err)
	}
}
