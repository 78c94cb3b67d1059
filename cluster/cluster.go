// Package cluster starts a whole Wolke cloud in one process: embedded etcd,
// meta nodes, chunk servers on disk files and the S3 gateway, all on
// 127.0.0.1. `wolke dev` runs it; in-process tests use Start, which can
// stop, restart and damage single nodes.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/wolke-cloud/wolke/block/volume"
	"github.com/wolke-cloud/wolke/chunk/disk"
	"github.com/wolke-cloud/wolke/control"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metaclient"
)

// Options shape a cluster. Zero values take the defaults of `wolke dev`.
type Options struct {
	Dir            string // data directory; kept across restarts
	MetaNodes      int    // 1 or 3
	ChunkServers   int    // default 6
	DisksPerServer int    // default 1
	DiskSize       int64  // bytes per disk file; default 16 GiB
	// PreallocateDisks writes new disk files in full as they are made
	// (chunk.DiskConfig.Preallocate): they hold their space, and writes
	// to them are overwrites, faster than first writes into a sparse
	// file. Preallocating is told the bytes written of all new files.
	PreallocateDisks bool
	Preallocating    func(done, total int64)
	Zones            int      // zone labels z1..zN spread over chunk servers; default 3
	S3Addr           string   // default 127.0.0.1:9000
	NBDAddr          string   // NBD server for volumes; "" serves none
	Etcd             []string // external etcd endpoints; empty starts an embedded one
	Root             Credentials
	Users            []User
	DataShards       int // default 4
	ParityShards     int // default 2
	Region           string
	Logger           *slog.Logger
	// RepairAfter is how long a chunk server may be gone before its disks
	// are declared lost and rebuilt elsewhere: 0 takes 10m, negative
	// means at once. Disks found missing at a server's start are rebuilt
	// at once whatever it is.
	RepairAfter time.Duration
	Durability  DurabilityOptions // repair worker, garbage collection, scrubbers
	// Domain enables virtual-hosted-style S3 requests: "<bucket>.<Domain>".
	Domain string
	// TLS of the S3 endpoint (tls.go): a certificate and key, or a
	// self-signed one made in the data directory.
	TLSCert, TLSKey string
	TLSSelfSigned   bool
	NBDTLS          NBDTLSOptions // STARTTLS of the NBD server (tls.go)
	// Volume tunes the block service (write cache, leases, healing);
	// zero fields take volume.Config's defaults.
	Volume volume.Config
	// WrapDisk, if set, wraps every disk of the chunk servers as it is
	// opened (server id "c0".., disk file path): fault tests inject I/O
	// errors with disk.Faulty.
	WrapDisk func(server, path string, d disk.Disk) disk.Disk
}

// User is an extra S3 user with its own credentials.
type User struct {
	Name string
	Credentials
}

func (o *Options) setDefaults() {
	if o.MetaNodes == 0 {
		o.MetaNodes = 1
	}
	if o.ChunkServers == 0 {
		o.ChunkServers = 6
	}
	if o.DisksPerServer == 0 {
		o.DisksPerServer = 1
	}
	if o.DiskSize == 0 {
		o.DiskSize = 16 << 30
	}
	if o.Zones == 0 {
		o.Zones = 3
	}
	if o.S3Addr == "" {
		o.S3Addr = "127.0.0.1:9000"
	}
	if o.DataShards == 0 {
		o.DataShards = 4
	}
	if o.ParityShards == 0 {
		o.ParityShards = 2
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

func (o *Options) validate() error {
	const op = "cluster.Options"
	switch {
	case o.Dir == "":
		return errs.Errorf(op, errs.Invalid, "a data directory is required")
	case o.MetaNodes != 1 && o.MetaNodes != 3 && o.MetaNodes != 5:
		return errs.Errorf(op, errs.Invalid, "meta nodes must be 1, 3 or 5, not %d", o.MetaNodes)
	case o.DataShards < 1 || o.ParityShards < 0:
		return errs.Errorf(op, errs.Invalid, "erasure code %d+%d is not valid", o.DataShards, o.ParityShards)
	case o.ChunkServers*o.DisksPerServer < o.DataShards+o.ParityShards:
		return errs.Errorf(op, errs.Invalid, "%d+%d erasure coding needs at least %d disks, have %d",
			o.DataShards, o.ParityShards, o.DataShards+o.ParityShards, o.ChunkServers*o.DisksPerServer)
	case o.DiskSize < 64<<20:
		return errs.Errorf(op, errs.Invalid, "disk size %d is below 64 MiB", o.DiskSize)
	}
	return o.validateTLS()
}

// Cluster is a running cloud.
type Cluster struct {
	opts     Options
	log      *slog.Logger
	dir      string
	st       *state
	Registry *prometheus.Registry

	etcd   *control.Embedded
	etcdCl *clientv3.Client
	metas  []*metaProc
	chunks []*chunkProc
	mc     *metaclient.Client
	gw     *gatewayProc
	dur    *durability
	block  *blockProc
	root   Credentials
	// s3ln and nbdln are the user-facing listeners, bound before any
	// internal server takes an ephemeral port that could be theirs; the
	// gateway and the block service take them over when they start.
	s3ln, nbdln net.Listener
	// local are the chunk servers above by address: the cluster's own
	// chunk clients hand them requests without loopback TCP.
	local    localChunks
	prealloc preallocProgress
	// RootGenerated is true when the root credentials were made at this start.
	RootGenerated bool

	mu sync.Mutex
}

// Open starts a cluster and returns once it serves S3.
func Open(ctx context.Context, opts Options) (_ *Cluster, err error) {
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, errs.E("cluster.Open", errs.Internal, err)
	}
	st, err := loadState(opts.Dir)
	if err != nil {
		return nil, err
	}
	c := &Cluster{opts: opts, log: opts.Logger, dir: opts.Dir, st: st, Registry: prometheus.NewRegistry(), prealloc: preallocProgress{report: opts.Preallocating}}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	if c.root, c.RootGenerated, err = rootCredentials(opts.Dir, opts.Root); err != nil {
		return nil, err
	}
	if err := c.bindUserPorts(); err != nil {
		return nil, err
	}
	if err := c.startEtcd(ctx); err != nil {
		return nil, err
	}
	if err := c.startMetas(ctx); err != nil {
		return nil, err
	}
	if err := st.save(c.dir); err != nil {
		return nil, err
	}
	if opts.PreallocateDisks {
		c.prealloc.total = c.missingDiskBytes(opts.ChunkServers)
	}
	for i := 0; i < opts.ChunkServers; i++ {
		if err := c.StartChunk(ctx, i); err != nil {
			return nil, err
		}
	}
	if err := c.startBlock(ctx); err != nil {
		return nil, err
	}
	if err := c.startGateway(ctx); err != nil {
		return nil, err
	}
	if err := c.startDurability(ctx); err != nil {
		return nil, err
	}
	if err := st.save(c.dir); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Cluster) startEtcd(ctx context.Context) error {
	eps := c.opts.Etcd
	if len(eps) == 0 {
		// A new cluster lets etcd pick its ports, so that it can pick again
		// when one is taken between the pick and its bind (another
		// process's connection may get it as its local port); they are
		// kept for restarts.
		e, err := control.StartEmbedded(ctx, control.EmbedConfig{
			Dir:        filepath.Join(c.dir, "etcd"),
			ClientAddr: c.keptPort("etcd-client"),
			PeerAddr:   c.keptPort("etcd-peer"),
			Logger:     c.log.With("node", "etcd"),
		})
		if err != nil {
			return err
		}
		c.etcd = e
		eps = e.Endpoints()
		c.rememberURL("etcd-client", eps[0])
		if peers := e.PeerURLs(); len(peers) > 0 {
			c.rememberURL("etcd-peer", peers[0])
		}
	}
	cl, err := control.Dial(ctx, eps)
	if err != nil {
		return err
	}
	c.etcdCl = cl
	return nil
}

// port returns the remembered address of role, or a free loopback port.
// keptPort is the address role used before, or 127.0.0.1:0 for a new one.
func (c *Cluster) keptPort(role string) string {
	if a := c.st.Ports[role]; a != "" {
		return a
	}
	return "127.0.0.1:0"
}

func (c *Cluster) rememberURL(role, url string) {
	if host, port, err := net.SplitHostPort(trimScheme(url)); err == nil {
		c.st.Ports[role] = net.JoinHostPort(host, port)
	}
}

func trimScheme(u string) string {
	for _, p := range []string{"http://", "https://"} {
		if len(u) > len(p) && u[:len(p)] == p {
			return u[len(p):]
		}
	}
	return u
}

// S3Endpoint is the gateway's URL.
func (c *Cluster) S3Endpoint() string {
	if c.opts.tlsEnabled() {
		return "https://" + c.gw.addr
	}
	return "http://" + c.gw.addr
}

// EtcdEndpoints are the etcd client URLs the cluster uses.
func (c *Cluster) EtcdEndpoints() []string { return c.etcdCl.Endpoints() }

// Root returns the root credentials.
func (c *Cluster) Root() Credentials { return c.root }

// ClusterID names this cluster; disks of other clusters are refused.
func (c *Cluster) ClusterID() string { return c.st.ClusterID }

// Meta is a client of the meta service.
func (c *Cluster) Meta() *metaclient.Client { return c.mc }

// Close stops every node, gateway first, and waits for them.
func (c *Cluster) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var all []error
	for _, ln := range []*net.Listener{&c.s3ln, &c.nbdln} {
		if *ln != nil { // bound, never handed over
			(*ln).Close()
			*ln = nil
		}
	}
	if c.gw != nil {
		all = append(all, c.gw.stop())
		c.gw = nil
	}
	if c.block != nil {
		all = append(all, c.block.stop())
		c.block = nil
	}
	all = append(all, c.stopDurability())
	for i := range c.chunks {
		all = append(all, c.StopChunk(i))
	}
	if c.mc != nil {
		all = append(all, c.mc.Close())
		c.mc = nil
	}
	for i := len(c.metas) - 1; i >= 0; i-- {
		all = append(all, c.StopMeta(i))
	}
	if c.etcdCl != nil {
		all = append(all, c.etcdCl.Close())
		c.etcdCl = nil
	}
	if c.etcd != nil {
		all = append(all, c.etcd.Close())
		c.etcd = nil
	}
	return errors.Join(all...)
}

// proc is one node running in a goroutine.
type proc struct {
	cancel context.CancelFunc
	done   chan error
}

func goServe(serve func(ctx context.Context) error) *proc {
	ctx, cancel := context.WithCancel(context.Background())
	p := &proc{cancel: cancel, done: make(chan error, 1)}
	go func() { p.done <- serve(ctx) }()
	return p
}

func (p *proc) stop() error {
	if p == nil {
		return nil
	}
	p.cancel()
	select {
	case err := <-p.done:
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	case <-time.After(30 * time.Second):
		return fmt.Errorf("node did not stop within 30s")
	}
}
