package cluster

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/wolke-cloud/wolke/chunk"
	"github.com/wolke-cloud/wolke/control"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta"
	"github.com/wolke-cloud/wolke/meta/metaclient"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// Each Run* function runs one role on its own, as `wolke <role>` does on a
// production node: it finds its peers through etcd and returns when ctx ends.

// MetaRole runs one meta node.
type MetaRole struct {
	Cluster   string   // cluster name: etcd key prefix
	ID        string   // node id, stable across restarts
	Dir       string   // Raft log, snapshots and state
	RaftAddr  string   // listen address for Raft
	GRPCAddr  string   // listen address for the meta API
	Etcd      []string // etcd endpoints
	Bootstrap bool     // form a new cluster when there is no state
	Join      []string // gRPC addresses of members to join through
	// Snapshots: the meta.Config fields of the same names (0: defaults).
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
	Logger            *slog.Logger
	Registry          prometheus.Registerer
}

// RunMeta serves a meta node until ctx ends.
func RunMeta(ctx context.Context, r MetaRole) error {
	if err := checkRejoin(ctx, r); err != nil {
		return err
	}
	raftLn, err := net.Listen("tcp", r.RaftAddr)
	if err != nil {
		return errs.E("cluster.RunMeta", errs.Unavailable, err)
	}
	grpcLn, err := net.Listen("tcp", r.GRPCAddr)
	if err != nil {
		raftLn.Close()
		return errs.E("cluster.RunMeta", errs.Unavailable, err)
	}
	ep := MetaEndpoint{GRPC: grpcLn.Addr().String(), Raft: raftLn.Addr().String()}
	node, err := meta.New(meta.Config{ID: r.ID, Dir: r.Dir, RaftListener: raftLn, GRPCAdvertise: ep.GRPC, Bootstrap: r.Bootstrap,
		SnapshotThreshold: r.SnapshotThreshold, SnapshotInterval: r.SnapshotInterval, TrailingLogs: r.TrailingLogs},
		meta.Deps{Logger: r.Logger, Registry: r.Registry})
	if err != nil {
		raftLn.Close()
		grpcLn.Close()
		return err
	}
	defer node.Close()
	errc := make(chan error, 1)
	go func() { errc <- node.Serve(ctx, grpcLn) }()
	if len(r.Join) > 0 {
		mc, err := metaclient.Dial(ctx, r.Join)
		if err != nil {
			return err
		}
		_, err = mc.Join(ctx, &metapb.JoinRequest{Member: &metapb.Member{Id: r.ID, RaftAddr: ep.Raft, GrpcAddr: ep.GRPC}})
		mc.Close()
		if err != nil && !errs.Is(err, errs.Exists) {
			return err
		}
	}
	if len(r.Etcd) > 0 {
		cl, err := control.Dial(ctx, r.Etcd)
		if err != nil {
			return err
		}
		defer cl.Close()
		val, _ := json.Marshal(ep)
		reg, err := control.Register(ctx, cl, r.Cluster, "meta", r.ID, val, 10*time.Second)
		if err != nil {
			return err
		}
		defer reg.Close()
	}
	r.Logger.Info("meta node serving", "id", r.ID, "grpc", ep.GRPC, "raft", ep.Raft)
	return <-errc
}

// ChunkRole runs one chunk server.
type ChunkRole struct {
	Cluster  string
	Config   chunk.Config // ID, Zone, Disks; ClusterID is set from Cluster
	Addr     string
	Etcd     []string
	Scrub    chunk.ScrubConfig // background re-reading of every chunk
	Logger   *slog.Logger
	Registry prometheus.Registerer
}

// RunChunk serves a chunk server until ctx ends.
func RunChunk(ctx context.Context, r ChunkRole) error {
	r.Config.ClusterID = r.Cluster
	srv, err := chunk.New(r.Config, chunk.Deps{Logger: r.Logger, Registry: r.Registry})
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", r.Addr)
	if err != nil {
		return errs.E("cluster.RunChunk", errs.Unavailable, err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ctx, ln) }()
	cl, mc, err := dialPeers(ctx, r.Etcd, r.Cluster)
	if err != nil {
		return err
	}
	defer cl.Close()
	defer mc.Close()
	if err := registerDisks(ctx, mc, r.Logger, r.Config.ID, r.Config.Zone, srv.Disks()); err != nil {
		return err
	}
	defer watchFailedDisks(ctx, srv, mc, r.Logger)() // stops before mc and the disks close
	ep := ChunkEndpoint{Addr: ln.Addr().String(), Zone: r.Config.Zone}
	for _, d := range srv.Disks() {
		ep.Disks = append(ep.Disks, d.ID)
	}
	val, _ := json.Marshal(ep)
	reg, err := control.Register(ctx, cl, r.Cluster, "chunk", r.Config.ID, val, 5*time.Second)
	if err != nil {
		return err
	}
	defer reg.Close()
	defer runScrubber(srv, r.Scrub, r.Logger)() // stops before the disks close
	r.Logger.Info("chunk server serving", "id", r.Config.ID, "addr", ep.Addr, "disks", len(ep.Disks))
	return <-errc
}

// GatewayRole runs one S3 gateway.
type GatewayRole struct {
	Cluster                  string
	Addr                     string
	Etcd                     []string
	DataShards, ParityShards int
	Region                   string
	Root                     Credentials
	Users                    []User
	Logger                   *slog.Logger
	Registry                 *prometheus.Registry
	Domain                   string // virtual-hosted-style requests under it
	TLSCert, TLSKey          string // serve HTTPS with this certificate (tls.go)
	// MasterKeyFile holds the 32-byte SSE-S3 master key, the same for every
	// gateway of the cluster; empty refuses SSE-S3.
	MasterKeyFile string
	// IntentAfter is core.Config.IntentAfter: writes running longer than
	// this record a write intent in meta so garbage collection spares their
	// shards (0: core's default, negative: before the first shard). It must
	// stay far below the repair worker's GC grace.
	IntentAfter time.Duration
}

// RunGateway serves S3 until ctx ends.
func RunGateway(ctx context.Context, r GatewayRole) error {
	if r.Root.AccessKey == "" || r.Root.SecretKey == "" {
		return errs.Errorf("cluster.RunGateway", errs.Invalid, "root credentials are required")
	}
	cl, mc, err := dialPeers(ctx, r.Etcd, r.Cluster)
	if err != nil {
		return err
	}
	defer cl.Close()
	defer mc.Close()
	var masterKey []byte
	if r.MasterKeyFile != "" {
		if masterKey, err = readMasterKey(r.MasterKeyFile); err != nil {
			return err
		}
	}
	parts, err := newGateway(ctx, gatewayWiring{
		meta: mc, masterKey: masterKey, volumes: mc.Volumes(), etcd: cl, cluster: r.Cluster, k: r.DataShards, m: r.ParityShards, region: r.Region,
		root: r.Root, users: r.Users, log: r.Logger, reg: r.Registry, gather: r.Registry, domain: r.Domain,
		intentAfter: r.IntentAfter,
	})
	if err != nil {
		return err
	}
	defer parts.resolver.Close()
	ln, err := net.Listen("tcp", r.Addr)
	if err != nil {
		return errs.E("cluster.RunGateway", errs.Unavailable, err)
	}
	if ln, err = listenTLS(ln, r.TLSCert, r.TLSKey); err != nil {
		return err
	}
	r.Logger.Info("s3 gateway serving", "addr", ln.Addr().String())
	return parts.serve(ctx, ln)
}

// dialPeers connects a role to its cluster: etcd, and the meta nodes
// found there.
func dialPeers(ctx context.Context, etcd []string, cluster string) (*clientv3.Client, *metaclient.Client, error) {
	cl, err := control.Dial(ctx, etcd)
	if err != nil {
		return nil, nil, err
	}
	mc, err := dialMetaViaEtcd(ctx, cl, cluster)
	if err != nil {
		cl.Close()
		return nil, nil, err
	}
	return cl, mc, nil
}

// dialMetaViaEtcd finds meta nodes in etcd (waiting up to a minute for the
// first one to register) and dials them.
func dialMetaViaEtcd(ctx context.Context, cl *clientv3.Client, cluster string) (*metaclient.Client, error) {
	const op = "cluster.dialMeta"
	deadline := time.Now().Add(time.Minute)
	for {
		found, err := control.List(ctx, cl, cluster, "meta")
		if err == nil && len(found) > 0 {
			var addrs []string
			for _, v := range found {
				var ep MetaEndpoint
				if json.Unmarshal(v, &ep) == nil && ep.GRPC != "" {
					addrs = append(addrs, ep.GRPC)
				}
			}
			sort.Strings(addrs)
			return metaclient.Dial(ctx, addrs)
		}
		if time.Now().After(deadline) {
			return nil, errs.Errorf(op, errs.Unavailable, "no meta node registered in etcd for cluster %q", cluster)
		}
		select {
		case <-ctx.Done():
			return nil, errs.E(op, errs.Canceled, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}
