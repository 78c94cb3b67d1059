package cluster

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/wolke-cloud/wolke/block/volume"
	"github.com/wolke-cloud/wolke/chunk/chunkclient"
	"github.com/wolke-cloud/wolke/core"
	"github.com/wolke-cloud/wolke/gateway"
	"github.com/wolke-cloud/wolke/iam"
	"github.com/wolke-cloud/wolke/iam/sigv4"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

type gatewayProc struct {
	addr string
	*gatewayParts
	*proc
}

func (g *gatewayProc) stop() error {
	err := g.proc.stop()
	g.resolver.Close()
	return err
}

// gatewayParts is a built gateway: the HTTP server, the object layer under
// it and the resolver that follows chunk servers in etcd.
type gatewayParts struct {
	hs       *http.Server
	store    *core.Store
	resolver *diskResolver
	// etcd, cluster and log run the segment sweeper's election (segsweep.go).
	etcd    *clientv3.Client
	cluster string
	log     *slog.Logger
}

func (c *Cluster) startGateway(ctx context.Context) error {
	masterKey, err := loadMasterKey(c.opts.Dir)
	if err != nil {
		return err
	}
	parts, err := newGateway(context.WithoutCancel(ctx), gatewayWiring{
		meta: c.mc, masterKey: masterKey, volumes: c.mc.Volumes(), etcd: c.etcdCl, cluster: c.st.ClusterID, k: c.opts.DataShards, m: c.opts.ParityShards,
		region: c.opts.Region, domain: c.opts.Domain, root: c.root, users: c.opts.Users,
		log: c.log.With("node", "gw0"), reg: c.nodeRegistry("gw0"), gather: c.Registry,
		intentAfter: c.opts.Durability.intentAfter(), local: &c.local, blockSvc: c.blockService(),
	})
	if err != nil {
		return err
	}
	ln := c.s3ln
	c.s3ln = nil
	if ln == nil {
		if ln, err = c.st.listen("s3", c.opts.S3Addr); err != nil {
			parts.resolver.Close()
			return err
		}
	}
	if ln, err = c.wrapTLS(ln); err != nil {
		parts.resolver.Close()
		return err
	}
	c.gw = &gatewayProc{addr: ln.Addr().String(), gatewayParts: parts}
	c.gw.proc = goServe(func(ctx context.Context) error { return parts.serve(ctx, ln) })
	return nil
}

// gatewayWiring is what an S3 gateway needs around it.
type gatewayWiring struct {
	meta    metapb.MetaClient
	volumes metapb.VolumesClient // the EC2 volume API; nil serves none
	// blockSvc is the block service of this process, if any: CreateSnapshot
	// flushes a volume it has attached.
	blockSvc *volume.Service
	etcd     *clientv3.Client
	cluster  string
	k, m     int
	region   string
	domain   string // virtual-hosted-style requests under this domain
	root     Credentials
	users    []User
	log      *slog.Logger
	reg      prometheus.Registerer
	gather   prometheus.Gatherer // served at /_wolke/metrics

	masterKey []byte // SSE-S3 master key; nil refuses SSE-S3
	// intentAfter is core.Config.IntentAfter: negative when garbage is
	// collected (nearly) at once, 0 for core's default.
	intentAfter time.Duration
	// local are chunk servers running in this process (nil: none).
	local *localChunks
}

// newGateway builds the object layer and the S3 server on meta and the
// chunk servers found through etcd.
func newGateway(ctx context.Context, w gatewayWiring) (*gatewayParts, error) {
	res, err := newDiskResolver(ctx, w.etcd, w.cluster)
	if err != nil {
		return nil, err
	}
	shards := chunkclient.New(res.Resolve, w.local.options())
	store, err := core.New(core.Config{DataShards: w.k, ParityShards: w.m, MasterKey: w.masterKey, IntentAfter: w.intentAfter},
		core.Deps{Meta: w.meta, Shards: shards, Logger: w.log, Registry: w.reg})
	if err != nil {
		res.Close()
		return nil, err
	}
	var users []sigv4.Credential
	for _, u := range w.users {
		users = append(users, sigv4.Credential{AccessKey: u.AccessKey, Secret: u.SecretKey, User: u.Name})
	}
	creds, err := iam.NewStatic(sigv4.Credential{AccessKey: w.root.AccessKey, Secret: w.root.SecretKey, User: "root"}, users...)
	if err != nil {
		res.Close()
		return nil, err
	}
	health := &healthCheck{meta: w.meta, live: res.liveDisks, k: w.k, m: w.m}
	services, err := gatewayServices(w, shards)
	if err != nil {
		res.Close()
		return nil, err
	}
	gw, err := gateway.New(gateway.Config{Region: w.region, Domain: w.domain}, gateway.Deps{
		Objects: store, Creds: creds, Health: health.check, Logger: w.log, Registry: w.reg,
		Services: services,
	})
	if err != nil {
		res.Close()
		return nil, err
	}
	metrics := promhttp.HandlerFor(w.gather, promhttp.HandlerOpts{})
	api := gw.Handler()
	hs := &http.Server{
		Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/_wolke/metrics" {
				metrics.ServeHTTP(rw, r)
				return
			}
			api.ServeHTTP(rw, r)
		}),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	return &gatewayParts{hs: hs, store: store, resolver: res, etcd: w.etcd, cluster: w.cluster, log: w.log}, nil
}

// serveHTTP serves until ctx ends, then drains requests for up to 10s.
func serveHTTP(ctx context.Context, hs *http.Server, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
	}
	return nil
}

// healthCheck answers whether the cluster can serve reads and writes: meta
// answers, and every placement group has at least k live disks (the write
// quorum of core).
type healthCheck struct {
	meta metapb.MetaClient
	live func(ctx context.Context) (map[string]bool, error)
	k, m int
}

func (h *healthCheck) check(ctx context.Context) error {
	const op = "cluster.health"
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	groups, err := h.meta.ListPlacementGroups(ctx, &metapb.ListPlacementGroupsRequest{})
	if err != nil {
		return errs.E(op, errs.Unavailable, "meta does not answer", err)
	}
	live, err := h.live(ctx)
	if err != nil {
		return errs.E(op, errs.Unavailable, "etcd does not answer", err)
	}
	if len(groups.Groups) == 0 {
		if len(live) < h.k+h.m {
			return errs.Errorf(op, errs.Unavailable, "%d live disks, %d+%d erasure coding needs %d", len(live), h.k, h.m, h.k+h.m)
		}
		return nil
	}
	for _, g := range groups.Groups {
		n := 0
		for _, d := range g.Disks {
			if live[d] {
				n++
			}
		}
		if n < int(g.EcData) {
			return errs.Errorf(op, errs.Unavailable, "placement group %d has %d of %d disks live, needs %d", g.Id, n, len(g.Disks), g.EcData)
		}
	}
	return nil
}
