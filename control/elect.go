package control

import (
	"context"
	"log/slog"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// Leadership is a won election. It lasts until ctx (given to Elect) ends,
// Resign is called, or the session lease is lost; then Done is closed.
type Leadership struct {
	session  *concurrency.Session
	election *concurrency.Election
	logger   *slog.Logger

	stop     chan struct{} // closed by Resign
	stopOnce sync.Once
	done     chan struct{} // closed when leadership is over and cleaned up
	lost     chan struct{} // closed as soon as leadership is known to be over
}

// Elect campaigns for leadership of /wolke/<cluster>/elections/<name> with
// id as the leader's value and blocks until elected or ctx ends. The
// leadership is held until ctx ends, Resign, or the session's lease is lost
// (the process cannot reach etcd for the session TTL; see WithSessionTTL).
func Elect(ctx context.Context, cli *clientv3.Client, cluster, name, id string, opts ...Option) (*Leadership, error) {
	const op = "control.Elect"
	if err := checkNames(op, "cluster", cluster, "name", name); err != nil {
		return nil, err
	}
	if id == "" {
		return nil, errs.E(op, errs.Invalid, "empty id")
	}
	o := buildOptions(opts)
	// The session must outlive a canceled ctx long enough to revoke its lease.
	sctx, scancel := context.WithCancel(context.WithoutCancel(ctx))
	s, err := concurrency.NewSession(cli, concurrency.WithTTL(int(ttlSeconds(o.sessionTTL))), concurrency.WithContext(sctx))
	if err != nil {
		scancel()
		return nil, errs.E(op, errs.Unavailable, err)
	}
	e := concurrency.NewElection(s, electionPrefix(cluster, name))
	if err := campaign(ctx, s, e, id); err != nil {
		closeSession(s)
		scancel()
		if ctx.Err() != nil {
			return nil, errs.E(op, errs.Canceled, err)
		}
		return nil, errs.E(op, errs.Unavailable, err)
	}
	l := &Leadership{
		session:  s,
		election: e,
		logger:   o.logger,
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		lost:     make(chan struct{}),
	}
	go l.hold(ctx, cli, scancel)
	return l, nil
}

// campaign runs Campaign and checks that the session survived it: Campaign
// can return after our own key vanished with an expired lease.
func campaign(ctx context.Context, s *concurrency.Session, e *concurrency.Election, id string) error {
	if err := e.Campaign(ctx, id); err != nil {
		return err
	}
	select {
	case <-s.Done():
		return errs.E("control.Elect", errs.Unavailable, "session lost during campaign")
	default:
	}
	resp, err := s.Client().Get(ctx, e.Key())
	if err != nil {
		return err
	}
	if len(resp.Kvs) == 0 || resp.Kvs[0].CreateRevision != e.Rev() {
		return errs.E("control.Elect", errs.Unavailable, "leader key lost during campaign")
	}
	return nil
}

func closeSession(s *concurrency.Session) {
	// Close revokes the lease with its own timeout (the session TTL).
	_ = s.Close()
}

// hold waits for the end of the leadership and cleans up.
func (l *Leadership) hold(ctx context.Context, cli *clientv3.Client, scancel context.CancelFunc) {
	defer close(l.done)
	defer scancel()
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	// Someone deleting our key (an operator, a forced hand-over) also ends it.
	wch := cli.Watch(wctx, l.election.Key(), clientv3.WithRev(l.election.Rev()+1))
	resign := false
	for done := false; !done; {
		select {
		case <-ctx.Done():
			resign = true
			done = true
		case <-l.stop:
			resign = true
			done = true
		case <-l.session.Done():
			l.logger.Warn("leadership lost: session expired", slog.String("key", l.election.Key()))
			done = true
		case resp, ok := <-wch:
			if !ok {
				wch = nil // ctx ended; the ctx case will fire
				continue
			}
			for _, ev := range resp.Events {
				if ev.Type == clientv3.EventTypeDelete {
					l.logger.Warn("leadership lost: key deleted", slog.String("key", l.election.Key()))
					done = true
				}
			}
		}
	}
	close(l.lost)
	if resign {
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := l.election.Resign(rctx); err != nil {
			l.logger.Warn("resign failed", slog.String("key", l.election.Key()), slog.Any("err", err))
		}
		cancel()
	}
	closeSession(l.session)
}

// Key returns the election key this leader holds.
func (l *Leadership) Key() string { return l.election.Key() }

// Done is closed as soon as the leadership is over. A leader must stop its
// work when Done closes: another candidate may take over at any moment after.
func (l *Leadership) Done() <-chan struct{} { return l.lost }

// Resign gives up leadership (deleting the key so the next candidate wins at
// once) and waits for the clean-up, or for ctx.
func (l *Leadership) Resign(ctx context.Context) error {
	l.stopOnce.Do(func() { close(l.stop) })
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		return errs.E("control.Leadership.Resign", errs.Canceled, ctx.Err())
	}
}

// Leader returns the id of the current leader of an election, or
// errs.NotFound when there is none.
func Leader(ctx context.Context, cli *clientv3.Client, cluster, name string) (string, error) {
	const op = "control.Leader"
	if err := checkNames(op, "cluster", cluster, "name", name); err != nil {
		return "", err
	}
	resp, err := cli.Get(ctx, electionPrefix(cluster, name)+"/", clientv3.WithFirstCreate()...)
	if err != nil {
		return "", errs.E(op, errs.Unavailable, err)
	}
	if len(resp.Kvs) == 0 {
		return "", errs.E(op, errs.NotFound, "no leader")
	}
	return string(resp.Kvs[0].Value), nil
}
