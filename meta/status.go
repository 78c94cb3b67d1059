package meta

import (
	"context"
	"strconv"
	"time"

	"github.com/hashicorp/raft"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/internal/rpcerr"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// Status is one node's own view of its raft state, as Probe reads it.
type Status struct {
	ID            string `json:"id"`
	State         string `json:"state"`  // Leader, Follower, Candidate, Shutdown
	Leader        string `json:"leader"` // id of the leader it follows; empty when unknown
	Term          uint64 `json:"term"`
	LastIndex     uint64 `json:"last_index"`
	CommitIndex   uint64 `json:"commit_index"`
	AppliedIndex  uint64 `json:"applied_index"`
	SnapshotIndex uint64 `json:"snapshot_index"` // index of its latest snapshot, taken or installed
	// LastContact is how long ago a follower last heard from its leader:
	// 0 on the leader, -1 when it never did.
	LastContact time.Duration `json:"last_contact_ns"`
}

// Status reports this node's raft state.
func (n *Node) Status() Status {
	_, leader := n.raft.LeaderWithID()
	st := Status{
		ID: n.cfg.ID, State: n.raft.State().String(), Leader: string(leader),
		LastIndex: n.raft.LastIndex(), CommitIndex: n.raft.CommitIndex(), AppliedIndex: n.raft.AppliedIndex(),
	}
	stats := n.raft.Stats()
	st.Term, _ = strconv.ParseUint(stats["term"], 10, 64)
	st.SnapshotIndex, _ = strconv.ParseUint(stats["last_snapshot_index"], 10, 64)
	switch last := n.raft.LastContact(); {
	case n.raft.State() == raft.Leader:
	case last.IsZero():
		st.LastContact = -1
	default:
		st.LastContact = time.Since(last)
	}
	return st
}

// A Members call carrying statusKey in its metadata is answered by the
// node it reaches, from its own view (no forwarding, no read barrier),
// with the node's Status in the response header: a probe that works on
// followers and on nodes cut off from the leader.
const (
	statusKey    = "wolke-meta-status"
	statusHeader = "wolke-meta-status-"
)

func wantsStatus(ctx context.Context) bool {
	md, ok := metadata.FromIncomingContext(ctx)
	return ok && len(md.Get(statusKey)) > 0
}

// membersRPC serves Members: linearizable on the leader, or this node's
// own view with its Status for a probe.
func (n *Node) membersRPC(ctx context.Context, req *metapb.MembersRequest) (*metapb.MembersResponse, error) {
	if !wantsStatus(ctx) {
		return read(ctx, n, req, metapb.MetaClient.Members, n.members)
	}
	st := n.Status()
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	md := metadata.Pairs(
		statusHeader+"id", st.ID, statusHeader+"state", st.State, statusHeader+"leader", st.Leader,
		statusHeader+"term", u(st.Term), statusHeader+"last-index", u(st.LastIndex),
		statusHeader+"commit-index", u(st.CommitIndex), statusHeader+"applied-index", u(st.AppliedIndex),
		statusHeader+"snapshot-index", u(st.SnapshotIndex),
		statusHeader+"last-contact", strconv.FormatInt(int64(st.LastContact), 10),
	)
	if err := grpc.SetHeader(ctx, md); err != nil {
		return nil, errs.E("meta.Members", errs.Internal, err)
	}
	return n.members(ctx, req)
}

// Probe asks the meta node at grpcAddr for its own Status (and its view
// of the members), without going through the leader. Bound it with ctx:
// a frozen node answers nothing.
func Probe(ctx context.Context, grpcAddr string) (Status, *metapb.MembersResponse, error) {
	const op = "meta.Probe"
	cc, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return Status{}, nil, errs.E(op, errs.Invalid, err)
	}
	defer cc.Close()
	var hdr metadata.MD
	ctx = metadata.AppendToOutgoingContext(ctx, statusKey, "1")
	resp, err := metapb.NewMetaClient(cc).Members(ctx, &metapb.MembersRequest{}, grpc.Header(&hdr))
	if err != nil {
		err = rpcerr.FromStatus(err)
		return Status{}, nil, errs.E(op, errs.KindOf(err), err)
	}
	get := func(k string) string {
		if v := hdr.Get(statusHeader + k); len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if get("id") == "" {
		return Status{}, nil, errs.Errorf(op, errs.Unavailable, "%s answered without a status (an older wolke?)", grpcAddr)
	}
	num := func(k string) uint64 { v, _ := strconv.ParseUint(get(k), 10, 64); return v }
	lc, _ := strconv.ParseInt(get("last-contact"), 10, 64)
	st := Status{
		ID: get("id"), State: get("state"), Leader: get("leader"), Term: num("term"),
		LastIndex: num("last-index"), CommitIndex: num("commit-index"), AppliedIndex: num("applied-index"),
		SnapshotIndex: num("snapshot-index"), LastContact: time.Duration(lc),
	}
	return st, resp, nil
}
