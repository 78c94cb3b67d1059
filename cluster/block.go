package cluster

import (
	"context"
	"log/slog"
	"net"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/wolke-cloud/wolke/block/ebsapi"
	"github.com/wolke-cloud/wolke/block/ec2api"
	"github.com/wolke-cloud/wolke/block/nbd"
	"github.com/wolke-cloud/wolke/block/volume"
	"github.com/wolke-cloud/wolke/chunk/chunkclient"
	"github.com/wolke-cloud/wolke/gateway"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metaclient"
)

// blockProc is the block service: volumes on the chunk servers, served
// over NBD when Options.NBDAddr is set, and its garbage collector.
type blockProc struct {
	addr     string // NBD listen address; "" when NBD is off
	svc      *volume.Service
	resolver *diskResolver
	*proc
}

func (b *blockProc) stop() error {
	err := b.proc.stop()
	b.resolver.Close()
	return err
}

// bindUserPorts binds the S3 and NBD addresses first thing, so that a
// port taken elsewhere fails the start at once and no internal server on
// an ephemeral port can take them meanwhile.
func (c *Cluster) bindUserPorts() error {
	ln, err := c.st.listen("s3", c.opts.S3Addr)
	if err != nil {
		return err
	}
	c.s3ln = ln
	if c.opts.NBDAddr != "" {
		if c.nbdln, err = c.listenNBD(); err != nil {
			return err
		}
	}
	return nil
}

// listenNBD binds the NBD address: a fixed one as given; ":0" keeps the
// port of the first start, so that clients find the export again.
func (c *Cluster) listenNBD() (net.Listener, error) {
	if strings.HasSuffix(c.opts.NBDAddr, ":0") {
		return c.st.listen("nbd", c.opts.NBDAddr)
	}
	ln, err := net.Listen("tcp", c.opts.NBDAddr)
	if err != nil {
		return nil, errs.E("cluster.startBlock", errs.Unavailable, "nbd cannot listen on "+c.opts.NBDAddr, err)
	}
	return ln, nil
}

// volumeConfig is Options.Volume with the erasure code of extents written
// whole of st1 and sc1 volumes: the cluster's, when it has 2 or more
// parity shards (it then survives two losses, as 3 replicas do), unless
// Options.Volume names one; DataShards < 0 keeps every extent replicated.
func (c *Cluster) volumeConfig() volume.Config {
	vc := c.opts.Volume
	switch {
	case vc.DataShards < 0:
		vc.DataShards, vc.ParityShards = 0, 0
	case vc.DataShards == 0 && vc.ParityShards == 0 && c.opts.ParityShards >= 2:
		vc.DataShards, vc.ParityShards = c.opts.DataShards, c.opts.ParityShards
	}
	return vc
}

func (c *Cluster) startBlock(ctx context.Context) error {
	log := c.log.With("node", "block0")
	reg := c.nodeRegistry("block0")
	svc, res, err := newBlockService(context.WithoutCancel(ctx), c.etcdCl, c.st.ClusterID, c.mc, c.volumeConfig(), &c.local, log, reg)
	if err != nil {
		return err
	}
	b := &blockProc{svc: svc, resolver: res}
	var srv *nbd.Server
	var ln net.Listener
	if c.opts.NBDAddr != "" {
		cfg, err := c.opts.nbdConfig()
		if err == nil {
			srv, err = newNBDServer(cfg, svc, log, reg)
		}
		if err != nil {
			res.Close()
			return err
		}
		ln, c.nbdln = c.nbdln, nil
		if ln == nil {
			ln, err = c.listenNBD()
		}
		if err != nil {
			res.Close()
			return err
		}
		b.addr = ln.Addr().String()
	}
	b.proc = goServe(func(ctx context.Context) error {
		gcDone := make(chan struct{})
		go func() {
			defer close(gcDone)
			_ = svc.Run(ctx)
		}()
		defer func() { <-gcDone }()
		if srv == nil {
			<-ctx.Done()
			return nil
		}
		return srv.Serve(ctx, ln)
	})
	c.block = b
	return nil
}

// newBlockService makes the block service of `wolke dev` and `wolke
// block`: volumes in meta (mc), extents on the chunk servers found in etcd.
// Chunk servers in local (nil: none) are called in process. The caller
// closes the resolver once the service is done.
func newBlockService(ctx context.Context, etcd *clientv3.Client, cluster string, mc *metaclient.Client,
	cfg volume.Config, local *localChunks, log *slog.Logger, reg prometheus.Registerer) (*volume.Service, *diskResolver, error) {
	res, err := newDiskResolver(ctx, etcd, cluster)
	if err != nil {
		return nil, nil, err
	}
	shards := chunkclient.New(res.Resolve, local.options())
	svc, err := volume.New(cfg, volume.Deps{
		Meta: mc.Volumes(), Disks: mc, Shards: shards, Logger: log, Registry: reg,
	})
	if err != nil {
		res.Close()
		return nil, nil, err
	}
	return svc, res, nil
}

// newNBDServer serves svc's volumes and snapshots over NBD. cfg.Workers
// (nbdConfig: 64) is enough for fio's QD32 on one connection; volume
// writes of different extents run in parallel.
func newNBDServer(cfg nbd.Config, svc *volume.Service, log *slog.Logger, reg prometheus.Registerer) (*nbd.Server, error) {
	return nbd.New(cfg, nbd.Deps{Exports: svc, Logger: log, Registry: reg})
}

// Volumes is the block service of the cluster (an nbd.Exports).
func (c *Cluster) Volumes() *volume.Service { return c.block.svc }

// blockService is Volumes, nil when the block service is not running.
func (c *Cluster) blockService() *volume.Service {
	if c.block == nil {
		return nil
	}
	return c.block.svc
}

// NBDAddr is the NBD server's address, "" when NBD is off.
func (c *Cluster) NBDAddr() string { return c.block.addr }

// gatewayServices are the AWS APIs the gateway serves besides S3: EC2's
// volume actions and the EBS direct APIs, which read snapshots through
// the block service of this process or, in a gateway of its own, through
// one made for that on shards.
func gatewayServices(w gatewayWiring, shards volume.Shards) (map[string]gateway.Service, error) {
	out := map[string]gateway.Service{}
	if w.volumes != nil {
		reader := w.blockSvc
		if reader == nil {
			svc, err := volume.New(volume.Config{}, volume.Deps{Meta: w.volumes, Disks: w.meta, Shards: shards, Logger: w.log, Registry: w.reg})
			if err != nil {
				return nil, err
			}
			reader = svc
		}
		eh, err := ebsapi.New(ebsapi.Deps{Snapshots: w.volumes, Reader: reader, Logger: w.log})
		if err != nil {
			return nil, err
		}
		out["ebs"] = eh
		deps := ec2api.Deps{Volumes: w.volumes, Disks: w.meta, Logger: w.log}
		if w.blockSvc != nil {
			deps.Flusher = w.blockSvc // CreateSnapshot flushes a volume attached here first
		}
		h, err := ec2api.New(ec2api.Config{Region: w.region, ExtentSize: volume.DefaultExtentSize}, deps)
		if err != nil {
			return nil, err
		}
		out["ec2"] = h
	}
	return out, nil
}
