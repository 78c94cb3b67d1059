package cluster

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/wolke-cloud/wolke/control"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta"
	"github.com/wolke-cloud/wolke/meta/metaclient"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// checkRejoin refuses to start a meta node that has no raft state but
// joins under the id of a member still in the configuration. Raft would
// take it for that member with its log and its vote intact: it would
// count towards a quorum without the entries that member acknowledged,
// and could vote again in a term it voted in, so acknowledged writes
// could be lost. The lost member has to be removed first (`wolke admin
// meta remove ID`); a node joining under a new id, or under the old id
// once removed, is a new voter that catches up from a snapshot and the
// log.
//
// Likewise a node with no state started with --bootstrap while other meta
// nodes of the cluster answer would found a second, empty group.
func checkRejoin(ctx context.Context, r MetaRole) error {
	const op = "cluster.RunMeta"
	if len(r.Join) == 0 && (!r.Bootstrap || len(r.Etcd) == 0) {
		return nil
	}
	has, err := meta.HasState(r.Dir)
	if err != nil || has {
		return err
	}
	if len(r.Join) == 0 {
		return checkBootstrap(ctx, r)
	}
	mc, err := metaclient.Dial(ctx, r.Join)
	if err != nil {
		return err
	}
	defer mc.Close()
	mctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	resp, err := mc.Members(mctx, &metapb.MembersRequest{})
	if err != nil {
		return errs.E(op, errs.KindOf(err), "cannot list the meta members to join", err)
	}
	if slices.ContainsFunc(resp.Members, func(m *metapb.Member) bool { return m.Id == r.ID }) {
		return errs.Errorf(op, errs.Precondition,
			"%s has no raft state in %s but %s is still a member of the meta group: a node that lost its data must not rejoin "+
				"under its old id (it could vote away acknowledged writes); run `wolke admin meta remove %s` and start it again, "+
				"or start it with a new --id", r.ID, r.Dir, r.ID, r.ID)
	}
	return nil
}

// checkBootstrap refuses to bootstrap when a meta node of the cluster
// registered in etcd answers.
func checkBootstrap(ctx context.Context, r MetaRole) error {
	cl, err := control.Dial(ctx, r.Etcd)
	if err != nil {
		return err
	}
	defer cl.Close()
	found, err := control.List(ctx, cl, r.Cluster, "meta")
	if err != nil {
		return err
	}
	for id, v := range found {
		var ep MetaEndpoint
		if id == r.ID || json.Unmarshal(v, &ep) != nil || ep.GRPC == "" {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, metaProbeTimeout)
		_, _, err := meta.Probe(pctx, ep.GRPC)
		cancel()
		if err == nil {
			return errs.Errorf("cluster.RunMeta", errs.Precondition,
				"%s has no raft state in %s but meta node %s of cluster %q answers at %s: --bootstrap would found a second, empty "+
					"meta group; start it with --join %s instead (after `wolke admin meta remove %s` if it was a member)",
				r.ID, r.Dir, id, r.Cluster, ep.GRPC, ep.GRPC, r.ID)
		}
	}
	return nil
}
