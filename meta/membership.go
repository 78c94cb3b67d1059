package meta

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/hashicorp/raft"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/fsm"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"github.com/wolke-cloud/wolke/meta/raftstore"
)

// Join adds a voter to the cluster and records its addresses; called on
// any node, it goes to the leader. Joining again with the same raft
// address only updates the recorded gRPC address.
func (n *Node) Join(ctx context.Context, id, raftAddr, grpcAddr string) error {
	req := &metapb.JoinRequest{Member: &metapb.Member{Id: id, RaftAddr: raftAddr, GrpcAddr: grpcAddr}}
	_, err := route(ctx, n, req, metapb.MetaClient.Join, func(ctx context.Context) (*metapb.JoinResponse, error) {
		return &metapb.JoinResponse{}, n.join(ctx, id, raftAddr, grpcAddr)
	})
	return err
}

// Remove takes a server out of the cluster; called on any node, it goes
// to the leader.
func (n *Node) Remove(ctx context.Context, id string) error {
	req := &metapb.RemoveRequest{Id: id}
	_, err := route(ctx, n, req, metapb.MetaClient.Remove, func(ctx context.Context) (*metapb.RemoveResponse, error) {
		return &metapb.RemoveResponse{}, n.remove(ctx, id)
	})
	return err
}

func (n *Node) configuration(ctx context.Context) (raft.Configuration, error) {
	f := n.raft.GetConfiguration()
	if err := waitFuture(ctx, f); err != nil {
		return raft.Configuration{}, err
	}
	return f.Configuration(), nil
}

// join runs on the leader.
func (n *Node) join(ctx context.Context, id, raftAddr, grpcAddr string) error {
	const op = "meta.Join"
	if id == "" {
		return errs.E(op, errs.Invalid, "member id is required")
	}
	if err := checkAdvertise(op, "raft address", raftAddr); err != nil {
		return err
	}
	if grpcAddr != "" {
		if err := checkAdvertise(op, "grpc address", grpcAddr); err != nil {
			return err
		}
	}
	conf, err := n.configuration(ctx)
	if err != nil {
		return err
	}
	present := false
	for _, s := range conf.Servers {
		if s.ID == raft.ServerID(id) && s.Address == raft.ServerAddress(raftAddr) && s.Suffrage == raft.Voter {
			present = true
		}
	}
	if !present {
		f := n.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(raftAddr), 0, timeoutFor(ctx, n.cfg.ApplyTimeout))
		if err := waitFuture(ctx, f); err != nil {
			return err
		}
		n.logger.Info("meta member joined", "member", id, "raft_addr", raftAddr)
	}
	_, err = n.propose(ctx, fsm.OpSetMember, &metapb.Member{Id: id, RaftAddr: raftAddr, GrpcAddr: grpcAddr})
	return err
}

// remove runs on the leader. The member record goes first: a leader
// removing itself steps down as soon as the configuration commits.
func (n *Node) remove(ctx context.Context, id string) error {
	if id == "" {
		return errs.E("meta.Remove", errs.Invalid, "member id is required")
	}
	if _, err := n.propose(ctx, fsm.OpRemoveMember, &metapb.RemoveRequest{Id: id}); err != nil {
		return err
	}
	f := n.raft.RemoveServer(raft.ServerID(id), 0, timeoutFor(ctx, n.cfg.ApplyTimeout))
	if err := waitFuture(ctx, f); err != nil {
		return err
	}
	n.logger.Info("meta member removed", "member", id)
	return nil
}

// members answers Members on the leader: the raft configuration joined
// with the recorded gRPC addresses.
func (n *Node) members(ctx context.Context, _ *metapb.MembersRequest) (*metapb.MembersResponse, error) {
	conf, err := n.configuration(ctx)
	if err != nil {
		return nil, err
	}
	recs, err := n.fsm.Members(ctx)
	if err != nil {
		return nil, err
	}
	grpcOf := map[string]string{}
	for _, m := range recs {
		grpcOf[m.Id] = m.GrpcAddr
	}
	_, leader := n.raft.LeaderWithID()
	resp := &metapb.MembersResponse{CommitIndex: n.raft.CommitIndex()}
	for _, s := range conf.Servers {
		suffrage := "voter"
		if s.Suffrage != raft.Voter {
			suffrage = "nonvoter"
		}
		resp.Members = append(resp.Members, &metapb.Member{
			Id: string(s.ID), RaftAddr: string(s.Address), GrpcAddr: grpcOf[string(s.ID)],
			Leader: s.ID == leader, Suffrage: suffrage,
		})
	}
	return resp, nil
}

// HasState reports whether dir holds the raft state of a meta node: a
// log, a vote or a snapshot. A node without state that joins under the id
// of a member that is still in the configuration would be taken for that
// member with its acknowledged log gone (see cluster.RunMeta).
func HasState(dir string) (bool, error) {
	const op = "meta.HasState"
	if _, err := os.Stat(filepath.Join(dir, "raft")); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	logs, err := raftstore.Open(filepath.Join(dir, "raft"), slog.New(slog.DiscardHandler))
	if err != nil {
		return false, errs.E(op, errs.Internal, err)
	}
	defer logs.Close()
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 1, newHCLog(slog.New(slog.DiscardHandler)))
	if err != nil {
		return false, errs.E(op, errs.Internal, err)
	}
	has, err := raft.HasExistingState(logs, logs, snaps)
	if err != nil {
		return false, errs.E(op, errs.Internal, err)
	}
	return has, nil
}
