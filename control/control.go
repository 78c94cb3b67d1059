// Package control is Wolke's control plane on etcd: node membership with
// leases, service discovery and leader election for background workers.
//
// etcd is not the metadata store (that is meta, on Raft + pebble). Keys here
// are small and short-lived:
//
//	/wolke/<cluster>/<kind>/<id>             membership (kinds: meta, chunk, gateway, ...)
//	/wolke/<cluster>/elections/<name>/<lease> election candidates
//
// `wolke dev` embeds a single-node etcd (StartEmbedded); production dials an
// etcd cluster (Dial).
package control

import (
	"log/slog"
	"strings"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// Root is the prefix of every key Wolke keeps in etcd.
const Root = "/wolke/"

// electionsKind is the path segment under which elections live; it is not a
// valid membership kind.
const electionsKind = "elections"

// Key returns the membership key of id: /wolke/<cluster>/<kind>/<id>.
func Key(cluster, kind, id string) string {
	return Prefix(cluster, kind) + id
}

// Prefix returns the key prefix of all members of a kind, with a trailing slash.
func Prefix(cluster, kind string) string {
	return Root + cluster + "/" + kind + "/"
}

// electionPrefix is the prefix handed to concurrency.NewElection (which adds
// the trailing slash itself).
func electionPrefix(cluster, name string) string {
	return Root + cluster + "/" + electionsKind + "/" + name
}

// checkName rejects empty names and names that would break the key layout.
func checkName(op, what, s string) error {
	if s == "" {
		return errs.Errorf(op, errs.Invalid, "empty %s", what)
	}
	if strings.ContainsAny(s, "/\x00") {
		return errs.Errorf(op, errs.Invalid, "%s %q contains '/' or NUL", what, s)
	}
	return nil
}

func checkNames(op string, pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := checkName(op, pairs[i], pairs[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// Option tunes Register, Elect and NewDirectory.
type Option func(*options)

type options struct {
	logger     *slog.Logger
	sessionTTL time.Duration
	retryMin   time.Duration
	retryMax   time.Duration
}

// WithLogger sets the logger for background work (re-registration, watch
// restarts, lost leadership). The default discards.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithSessionTTL sets the lease TTL of an election session: how long a
// crashed leader keeps its leadership. Default 10 s; etcd rounds TTLs up to
// whole seconds and to its minimum lease TTL.
func WithSessionTTL(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.sessionTTL = d
		}
	}
}

func buildOptions(opts []Option) options {
	o := options{
		logger:     slog.New(slog.DiscardHandler),
		sessionTTL: 10 * time.Second,
		retryMin:   100 * time.Millisecond,
		retryMax:   5 * time.Second,
	}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// ttlSeconds converts a TTL to etcd's whole seconds, rounding up, at least 1.
func ttlSeconds(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}

// backoff doubles d up to max.
func backoff(d, max time.Duration) time.Duration {
	d *= 2
	if d > max {
		d = max
	}
	return d
}
