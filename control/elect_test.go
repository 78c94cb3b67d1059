package control

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/wolke-cloud/wolke/internal/errs"
)

type electResult struct {
	l   *Leadership
	err error
}

func electAsync(ctx context.Context, cli *clientv3.Client, id string, opts ...Option) chan electResult {
	ch := make(chan electResult, 1)
	go func() {
		l, err := Elect(ctx, cli, "c", "repair", id, opts...)
		ch <- electResult{l, err}
	}()
	return ch
}

func mustNotWin(t *testing.T, ch chan electResult, d time.Duration) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("second candidate returned while the first leads: %+v", r)
	case <-time.After(d):
	}
}

func mustWin(t *testing.T, ch chan electResult, d time.Duration) *Leadership {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("Elect: %v", r.err)
		}
		return r.l
	case <-time.After(d):
		t.Fatalf("candidate not elected within %v", d)
		return nil
	}
}

func wantLeader(t *testing.T, cli *clientv3.Client, want string) {
	t.Helper()
	got, err := Leader(testCtx(t), cli, "c", "repair")
	if err != nil || got != want {
		t.Fatalf("Leader = %q, %v; want %q", got, err, want)
	}
}

func TestElectionResignHandsOver(t *testing.T) {
	t.Parallel()
	e := startEtcd(t)
	ctx := testCtx(t)
	if _, err := Leader(ctx, e.Client(), "c", "repair"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("Leader before any election: err = %v, want NotFound", err)
	}
	a := mustWin(t, electAsync(ctx, dialTest(t, e), "a"), 10*time.Second)
	wantLeader(t, e.Client(), "a")
	bch := electAsync(ctx, dialTest(t, e), "b")
	mustNotWin(t, bch, 300*time.Millisecond)

	if err := a.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.Done():
	default:
		t.Fatal("Done not closed after Resign")
	}
	b := mustWin(t, bch, 5*time.Second)
	wantLeader(t, e.Client(), "b")
	if err := b.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := Leader(ctx, e.Client(), "c", "repair"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("Leader after both resigned: err = %v, want NotFound", err)
	}
}

func TestElectionTakeoverWhenSessionDies(t *testing.T) {
	t.Parallel()
	e := startEtcd(t)
	ctx := testCtx(t)
	crashing := dialTest(t, e)
	a := mustWin(t, electAsync(ctx, crashing, "a", WithSessionTTL(2*time.Second)), 10*time.Second)
	bch := electAsync(ctx, dialTest(t, e), "b")
	mustNotWin(t, bch, 300*time.Millisecond)

	crashing.Close() // a's process dies without resigning
	select {
	case <-a.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("a.Done not closed after its session died")
	}
	start := time.Now()
	b := mustWin(t, bch, 10*time.Second)
	defer b.Resign(ctx)
	t.Logf("b took over %v after a lost its session", time.Since(start))
	wantLeader(t, e.Client(), "b")
}

func TestElectionEndsWithContext(t *testing.T) {
	t.Parallel()
	e := startEtcd(t)
	ctx := testCtx(t)
	actx, cancel := context.WithCancel(ctx)
	a := mustWin(t, electAsync(actx, dialTest(t, e), "a"), 10*time.Second)

	// A candidate that gives up waiting gets Canceled and leaves no key.
	short, cancelShort := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancelShort()
	if _, err := Elect(short, e.Client(), "c", "repair", "impatient"); !errs.Is(err, errs.Canceled) {
		t.Fatalf("impatient Elect err = %v, want Canceled", err)
	}
	resp, err := e.Client().Get(ctx, electionPrefix("c", "repair")+"/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil || resp.Count != 1 {
		t.Fatalf("candidate keys = %v, %v; want only the leader's", resp.Count, err)
	}

	bch := electAsync(ctx, dialTest(t, e), "b")
	mustNotWin(t, bch, 200*time.Millisecond)
	cancel() // a's lifetime ends: it resigns
	select {
	case <-a.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a.Done not closed after its context ended")
	}
	b := mustWin(t, bch, 5*time.Second)
	defer b.Resign(ctx)
	wantLeader(t, e.Client(), "b")
}

func TestElectionLostWhenKeyDeleted(t *testing.T) {
	t.Parallel()
	e := startEtcd(t)
	ctx := testCtx(t)
	a := mustWin(t, electAsync(ctx, dialTest(t, e), "a"), 10*time.Second)
	if _, err := e.Client().Delete(ctx, a.Key()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed after the leader key was deleted")
	}
}
