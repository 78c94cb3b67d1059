package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wolke-cloud/wolke/control"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta"
	"github.com/wolke-cloud/wolke/meta/metaclient"
)

// MetaEndpoint is what a meta node publishes in etcd.
type MetaEndpoint struct {
	GRPC string `json:"grpc"`
	Raft string `json:"raft"`
}

type metaProc struct {
	id   string
	node *meta.Node
	ep   MetaEndpoint
	reg  *control.Registration
	*proc
}

func (c *Cluster) metaID(i int) string { return fmt.Sprintf("m%d", i) }

func (c *Cluster) startMetas(ctx context.Context) error {
	c.metas = make([]*metaProc, c.opts.MetaNodes)
	for i := range c.metas {
		fresh := !exists(filepath.Join(c.dir, "meta", c.metaID(i)))
		if err := c.StartMeta(ctx, i, i == 0); err != nil {
			return err
		}
		// A restarted node 0 cannot elect itself before the others are
		// back: wait for a leader only when it bootstraps a new group.
		if i == 0 && fresh {
			if err := c.metas[0].node.WaitLeader(ctx); err != nil {
				return err
			}
		}
		if i > 0 && fresh {
			ep := c.metas[i].ep
			if err := c.joinMeta(ctx, c.metaID(i), ep); err != nil {
				return err
			}
		}
	}
	addrs := make([]string, len(c.metas))
	for i, m := range c.metas {
		addrs[i] = m.ep.GRPC
	}
	mc, err := metaclient.Dial(ctx, addrs)
	if err != nil {
		return err
	}
	c.mc = mc
	return nil
}

// joinMeta asks whichever meta node leads to add a voter.
func (c *Cluster) joinMeta(ctx context.Context, id string, ep MetaEndpoint) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		for _, m := range c.metas {
			if m != nil && m.node.IsLeader() {
				return m.node.Join(ctx, id, ep.Raft, ep.GRPC)
			}
		}
		select {
		case <-ctx.Done():
			return errs.E("cluster.joinMeta", errs.Unavailable, "no meta leader to join", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// StartMeta starts meta node i. Only node 0 may bootstrap a new cluster.
func (c *Cluster) StartMeta(ctx context.Context, i int, bootstrap bool) error {
	id := c.metaID(i)
	raftLn, err := c.st.listen(id+"-raft", "127.0.0.1:0")
	if err != nil {
		return err
	}
	grpcLn, err := c.st.listen(id+"-grpc", "127.0.0.1:0")
	if err != nil {
		raftLn.Close()
		return err
	}
	ep := MetaEndpoint{GRPC: grpcLn.Addr().String(), Raft: raftLn.Addr().String()}
	cfg := meta.Config{
		ID:            id,
		Dir:           filepath.Join(c.dir, "meta", id),
		RaftListener:  raftLn,
		GRPCAdvertise: ep.GRPC,
		Bootstrap:     bootstrap,
	}
	// Every node is on loopback: short timeouts, with headroom for a busy
	// two-core machine.
	cfg.SetFastTimeouts()
	cfg.HeartbeatTimeout *= 2
	cfg.ElectionTimeout *= 2
	cfg.LeaderLeaseTimeout *= 2
	// meta labels its logs and metrics with its node id itself.
	node, err := meta.New(cfg, meta.Deps{Logger: c.log, Registry: c.Registry})
	if err != nil {
		raftLn.Close()
		grpcLn.Close()
		return err
	}
	p := &metaProc{id: id, node: node, ep: ep}
	p.proc = goServe(func(ctx context.Context) error {
		err := node.Serve(ctx, grpcLn)
		node.Close()
		return err
	})
	val, _ := json.Marshal(ep)
	if p.reg, err = control.Register(context.WithoutCancel(ctx), c.etcdCl, c.st.ClusterID, "meta", id, val, 10*time.Second); err != nil {
		p.stop()
		return err
	}
	c.metas[i] = p
	return nil
}

// StopMeta stops meta node i as a clean shutdown would.
func (c *Cluster) StopMeta(i int) error {
	p := c.metas[i]
	if p == nil {
		return nil
	}
	c.metas[i] = nil
	if p.reg != nil {
		p.reg.Close()
	}
	return p.stop()
}

// nodeRegistry gives a node its own view of the cluster's registry with a
// node label, so many nodes of one kind live in one process.
func (c *Cluster) nodeRegistry(id string) prometheus.Registerer {
	return prometheus.WrapRegistererWith(prometheus.Labels{"node": id}, c.Registry)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
