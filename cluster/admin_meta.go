package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wolke-cloud/wolke/control"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// MetaReport is the Raft group of meta as `wolke admin meta` shows it:
// the configuration from the leader, and each member's own state from a
// direct probe.
type MetaReport struct {
	Cluster     string       `json:"cluster"`
	Leader      string       `json:"leader"` // id of the leader; empty when none is known
	CommitIndex uint64       `json:"commit_index"`
	Members     []MetaMember `json:"members"`
	Healthy     int          `json:"healthy"` // members that answer and follow the leader
	// Problem is set when no leader answered: the members are then the
	// configuration as a reachable node last saw it.
	Problem string `json:"problem,omitempty"`
}

// MetaMember is one node of the meta Raft group.
type MetaMember struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	GRPCAddr string `json:"grpc_addr"`
	Leader   bool   `json:"leader"`
	Suffrage string `json:"suffrage"`

	// From probing the member itself.
	Reachable bool   `json:"reachable"`
	State     string `json:"state,omitempty"` // its own raft state: Leader, Follower, Candidate
	// AppliedIndex is how far its state machine is; Lag how many entries
	// it is behind the leader's commit index.
	AppliedIndex  uint64 `json:"applied_index"`
	Lag           uint64 `json:"lag"`
	SnapshotIndex uint64 `json:"snapshot_index"`
	// LastContactMS: how long ago it last heard from the leader (0 on
	// the leader, -1 never).
	LastContactMS int64  `json:"last_contact_ms"`
	Healthy       bool   `json:"healthy"`
	Problem       string `json:"problem,omitempty"` // why it is not healthy
}

// Probe bounds and thresholds of Meta.
const (
	metaProbeTimeout = 1500 * time.Millisecond
	// A follower that has not heard from its leader for this long is cut
	// off (raft heartbeats every second at most).
	metaStaleContact = 5 * time.Second
	// How long Meta waits for a leader (an election takes a few seconds)
	// before it reports what the members themselves say.
	metaLeaderWait = 10 * time.Second
)

// membersWithoutLeader asks the meta nodes registered in etcd for their
// own view of the configuration: the first (by id) that answers.
func (a *Admin) membersWithoutLeader(ctx context.Context) (*metapb.MembersResponse, error) {
	found, err := control.List(ctx, a.etcd, a.cluster, "meta")
	if err != nil {
		return nil, err
	}
	for _, id := range sortedKeys(found) {
		var ep MetaEndpoint
		if json.Unmarshal(found[id], &ep) != nil || ep.GRPC == "" {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, metaProbeTimeout)
		_, resp, err := meta.Probe(pctx, ep.GRPC)
		cancel()
		if err == nil {
			return resp, nil
		}
	}
	return nil, errs.Errorf("cluster.Meta", errs.Unavailable, "none of %d registered meta nodes answers", len(found))
}

// Meta asks meta for the members of its Raft group and its commit index,
// and probes every member directly for its own state.
func (a *Admin) Meta(ctx context.Context) (*MetaReport, error) {
	wait := a.metaLeaderWait
	if wait <= 0 {
		wait = metaLeaderWait
	}
	lctx, cancel := context.WithTimeout(ctx, wait)
	resp, err := a.meta.Members(lctx, &metapb.MembersRequest{})
	cancel()
	problem := ""
	if err != nil {
		if !errs.Is(err, errs.Unavailable) && !errs.Is(err, errs.Canceled) {
			return nil, err
		}
		var perr error
		if resp, perr = a.membersWithoutLeader(ctx); perr != nil {
			return nil, errs.E("cluster.Meta", errs.Unavailable, "no meta leader, and no meta node registered in etcd answers", err)
		}
		problem = "no meta leader answers (quorum lost?): " + shortErr(err)
	}
	r := &MetaReport{Cluster: a.cluster, CommitIndex: resp.CommitIndex, Problem: problem}
	for _, m := range resp.Members {
		r.Members = append(r.Members, MetaMember{ID: m.Id, RaftAddr: m.RaftAddr, GRPCAddr: m.GrpcAddr, Leader: m.Leader, Suffrage: m.Suffrage})
		if m.Leader {
			r.Leader = m.Id
		}
	}
	slices.SortFunc(r.Members, func(x, y MetaMember) int { return strings.Compare(x.ID, y.ID) })
	var wg sync.WaitGroup
	for i := range r.Members {
		wg.Go(func() { probeMember(ctx, &r.Members[i], r.CommitIndex) })
	}
	wg.Wait()
	for _, m := range r.Members {
		if m.Healthy {
			r.Healthy++
		}
	}
	return r, nil
}

func probeMember(ctx context.Context, m *MetaMember, commit uint64) {
	if m.GRPCAddr == "" {
		m.Problem = "no gRPC address recorded (it never registered)"
		return
	}
	pctx, cancel := context.WithTimeout(ctx, metaProbeTimeout)
	defer cancel()
	st, _, err := meta.Probe(pctx, m.GRPCAddr)
	if err != nil {
		m.Problem = "unreachable: " + shortErr(err)
		return
	}
	m.Reachable, m.State, m.AppliedIndex, m.SnapshotIndex = true, st.State, st.AppliedIndex, st.SnapshotIndex
	m.LastContactMS = st.LastContact.Milliseconds()
	if st.LastContact < 0 {
		m.LastContactMS = -1
	}
	if commit > st.AppliedIndex {
		m.Lag = commit - st.AppliedIndex
	}
	switch {
	case st.ID != m.ID:
		m.Problem = fmt.Sprintf("%s answers as %q", m.GRPCAddr, st.ID)
	case m.Leader && st.State != "Leader":
		m.Problem = "the leader does not see itself leading (" + st.State + ")"
	case m.Leader:
	case st.State != "Follower":
		m.Problem = "not following: " + st.State
	case st.LastContact < 0:
		m.Problem = "never heard from a leader"
	case st.LastContact > metaStaleContact:
		m.Problem = fmt.Sprintf("no contact with the leader for %v", st.LastContact.Round(time.Second))
	}
	m.Healthy = m.Problem == ""
}

// shortErr is the first line of an error, bounded.
func shortErr(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

// RemoveMeta takes member id out of the meta Raft group. It refuses to
// remove the last voter, and, unless force, a member that is healthy
// (stop it first) or a removal that would leave fewer healthy voters than
// a quorum of the members left.
func (a *Admin) RemoveMeta(ctx context.Context, id string, force bool) error {
	const op = "cluster.RemoveMeta"
	r, err := a.Meta(ctx)
	if err != nil {
		return err
	}
	if r.Problem != "" {
		return errs.Errorf(op, errs.Unavailable, "%s: a member can only be removed through a leader", r.Problem)
	}
	var (
		target                *MetaMember
		voters, healthyVoters int
		ids                   []string
	)
	for i, m := range r.Members {
		ids = append(ids, m.ID)
		if m.ID == id {
			target = &r.Members[i]
		}
		if m.Suffrage == "voter" {
			voters++
			if m.Healthy {
				healthyVoters++
			}
		}
	}
	if target == nil {
		return errs.Errorf(op, errs.NotFound, "%q is not a meta member (members: %s)", id, strings.Join(ids, ", "))
	}
	if target.Suffrage == "voter" {
		if voters == 1 {
			return errs.Errorf(op, errs.Precondition, "%s is the last voter of the meta group: removing it would end the cluster", id)
		}
		left, healthyLeft := voters-1, healthyVoters
		if target.Healthy {
			healthyLeft--
		}
		if quorum := left/2 + 1; healthyLeft < quorum && !force {
			return errs.Errorf(op, errs.Precondition,
				"removing %s would leave %d healthy of %d voters, fewer than a quorum of %d; replace the other failed members first (or --force)",
				id, healthyLeft, left, quorum)
		}
	}
	if target.Healthy && !force {
		return errs.Errorf(op, errs.Precondition,
			"%s is healthy (%s, applied index %d): stop it before removing it, or pass --force", id, strings.ToLower(target.State), target.AppliedIndex)
	}
	_, err = a.meta.Remove(ctx, &metapb.RemoveRequest{Id: id})
	return err
}
