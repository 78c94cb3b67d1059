// Package meta is a metadata service node: the fsm state machine
// replicated with hashicorp/raft (log and stable store in pebble), served
// over gRPC as metapb.Meta. Writes go through raft on the leader and
// reads are linearizable; followers forward both to the leader.
package meta

import (
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// Config configures a Node. Zero durations and counts take defaults.
type Config struct {
	ID  string // unique, stable raft server id
	Dir string // data directory: raft log, state machine, snapshots

	// RaftListener is where the raft transport accepts peers.
	RaftListener net.Listener
	// RaftAdvertise is the address peers dial; defaults to the listener's.
	RaftAdvertise string
	// GRPCAdvertise is the address other nodes forward requests to;
	// defaults to the gRPC listener's address given to Serve.
	GRPCAdvertise string
	// Bootstrap forms a new single-node cluster when Dir holds no state.
	Bootstrap bool

	HeartbeatTimeout   time.Duration // default 1s
	ElectionTimeout    time.Duration // default 1s
	LeaderLeaseTimeout time.Duration // default 500ms
	CommitTimeout      time.Duration // default 50ms
	// LeaderWait bounds how long a request waits for a leader (or retries
	// forwarding) before it fails with errs.Unavailable. Default 5s.
	LeaderWait time.Duration
	// ApplyTimeout bounds a proposal when the caller's ctx has no
	// deadline. Default 10s.
	ApplyTimeout time.Duration

	MaxAppendEntries  int           // entries per append / fsync batch, default 256
	SnapshotThreshold uint64        // log entries between snapshots, default 8192
	SnapshotInterval  time.Duration // how often to check the threshold, default 30s
	TrailingLogs      uint64        // entries kept behind a snapshot, default 10240
	SnapshotRetain    int           // snapshots kept on disk, default 2
}

// SetFastTimeouts sets short raft timeouts for tests and single-machine
// clusters, where a round trip takes microseconds.
func (c *Config) SetFastTimeouts() {
	c.HeartbeatTimeout = 150 * time.Millisecond
	c.ElectionTimeout = 150 * time.Millisecond
	c.LeaderLeaseTimeout = 100 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
	c.LeaderWait = 3 * time.Second
}

// SetDefaults fills zero fields with defaults.
func (c *Config) SetDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.HeartbeatTimeout, time.Second)
	def(&c.ElectionTimeout, time.Second)
	def(&c.LeaderLeaseTimeout, 500*time.Millisecond)
	def(&c.CommitTimeout, 50*time.Millisecond)
	def(&c.LeaderWait, 5*time.Second)
	def(&c.ApplyTimeout, 10*time.Second)
	def(&c.SnapshotInterval, 30*time.Second)
	if c.MaxAppendEntries <= 0 {
		c.MaxAppendEntries = 256
	}
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = 8192
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = 10240
	}
	if c.SnapshotRetain <= 0 {
		c.SnapshotRetain = 2
	}
	if c.RaftAdvertise == "" && c.RaftListener != nil {
		c.RaftAdvertise = c.RaftListener.Addr().String()
	}
}

// Validate reports whether c (with defaults applied) can start a node.
func (c *Config) Validate() error {
	const op = "meta.Config"
	switch {
	case c.ID == "":
		return errs.E(op, errs.Invalid, "ID is required")
	case c.Dir == "":
		return errs.E(op, errs.Invalid, "Dir is required")
	case c.RaftListener == nil:
		return errs.E(op, errs.Invalid, "RaftListener is required")
	case c.MaxAppendEntries > 1024:
		return errs.E(op, errs.Invalid, "MaxAppendEntries is at most 1024")
	case c.LeaderLeaseTimeout > c.HeartbeatTimeout:
		return errs.E(op, errs.Invalid, "LeaderLeaseTimeout must not exceed HeartbeatTimeout")
	case c.ElectionTimeout < c.HeartbeatTimeout:
		return errs.E(op, errs.Invalid, "ElectionTimeout must be at least HeartbeatTimeout")
	case c.SnapshotInterval < 5*time.Millisecond:
		return errs.E(op, errs.Invalid, "SnapshotInterval is too short")
	}
	if err := checkAdvertise(op, "RaftAdvertise", c.RaftAdvertise); err != nil {
		return err
	}
	if c.GRPCAdvertise != "" {
		return checkAdvertise(op, "GRPCAdvertise", c.GRPCAdvertise)
	}
	return nil
}

func checkAdvertise(op, field, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" || port == "0" {
		return errs.Errorf(op, errs.Invalid, "%s %q is not host:port", field, addr)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return errs.Errorf(op, errs.Invalid, "%s %q is not an address peers can dial", field, addr)
	}
	return nil
}

// Deps are a Node's collaborators.
type Deps struct {
	Logger   *slog.Logger          // default: discard
	Registry prometheus.Registerer // optional
}
