package main

import (
	"time"

	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/wolke-cloud/wolke/chunk"
	"github.com/wolke-cloud/wolke/cluster"
)

// roleFlags are shared by every single-role command.
type roleFlags struct {
	cluster  string
	etcd     string
	logLevel string
}

func (r *roleFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&r.cluster, "cluster", "", "cluster name; every node of one cluster uses the same (required)")
	f.StringVar(&r.etcd, "etcd", "127.0.0.1:2379", "etcd endpoints, comma-separated")
	f.StringVar(&r.logLevel, "log-level", "info", "debug, info, warn or error (logs go to stderr)")
}

func (r *roleFlags) setup() (*slog.Logger, []string, error) {
	if r.cluster == "" {
		return nil, nil, fmt.Errorf("--cluster is required: every node of one cluster uses the same name")
	}
	level, err := parseLevel(r.logLevel)
	if err != nil {
		return nil, nil, err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	return log, strings.Split(r.etcd, ","), nil
}

func metaCmd() *cobra.Command {
	var (
		rf   roleFlags
		role cluster.MetaRole
		join string
	)
	cmd := &cobra.Command{
		Use:   "meta",
		Short: "Run a metadata (Raft) node",
		Long: `Run one metadata node. The first node of a new cluster starts with
--bootstrap; the others start with --join pointing at any member's gRPC address.
Nodes publish themselves in etcd, where gateways and chunk servers find them.

A node that lost its data directory is replaced, not restarted: remove it
(wolke admin meta remove ID), then start a node with an empty --dir, a new
--id and --join; it catches up from a snapshot and the log. An empty --dir
under the id of a current member is refused.`,
		Example: `  wolke meta --cluster prod --id m1 --dir /var/lib/wolke/meta --bootstrap
  wolke meta --cluster prod --id m2 --dir /var/lib/wolke/meta --join 10.0.0.1:7100`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			useIOProcs()
			log, eps, err := rf.setup()
			if err != nil {
				return err
			}
			if role.ID == "" || role.Dir == "" {
				return fmt.Errorf("--id and --dir are required")
			}
			role.Cluster, role.Etcd, role.Logger, role.Registry = rf.cluster, eps, log, prometheus.NewRegistry()
			if join != "" {
				role.Join = strings.Split(join, ",")
			}
			return cluster.RunMeta(cmd.Context(), role)
		},
	}
	rf.add(cmd)
	f := cmd.Flags()
	f.StringVar(&role.ID, "id", "", "node id, stable across restarts (required)")
	f.StringVar(&role.Dir, "dir", "", "data directory (required)")
	f.StringVar(&role.RaftAddr, "raft-addr", "127.0.0.1:7000", "Raft listen address")
	f.StringVar(&role.GRPCAddr, "grpc-addr", "127.0.0.1:7100", "meta API (gRPC) listen address")
	f.BoolVar(&role.Bootstrap, "bootstrap", false, "form a new cluster if this node has no state")
	f.StringVar(&join, "join", "", "gRPC addresses of existing members to join through, comma-separated")
	f.Uint64Var(&role.SnapshotThreshold, "snapshot-threshold", 8192, "Raft log entries between snapshots")
	f.DurationVar(&role.SnapshotInterval, "snapshot-interval", 30*time.Second, "how often to check whether a snapshot is due")
	f.Uint64Var(&role.TrailingLogs, "trailing-logs", 10240, "log entries kept behind a snapshot (a follower further behind is sent the snapshot)")
	return cmd
}

func chunkCmd() *cobra.Command {
	var (
		rf       roleFlags
		role     cluster.ChunkRole
		disks    []string
		indexDir string
		format   bool
		prealloc bool
	)
	cmd := &cobra.Command{
		Use:   "chunk",
		Short: "Run a chunk server that owns disks",
		Long: `Run one chunk server. It owns whole disks: block devices, or files that stand
in for them (created with the given size when missing: sparse, or written in
full with --preallocate). A disk from another cluster, or a device that is
not a Wolke disk, is refused.`,
		Example: `  wolke chunk --cluster prod --id c1 --zone z1 --disk /dev/sdb --disk /dev/sdc --index-dir /var/lib/wolke/index
  wolke chunk --cluster prod --id c2 --zone z2 --disk /srv/wolke/d0.img:100GiB`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			useIOProcs()
			log, eps, err := rf.setup()
			if err != nil {
				return err
			}
			if role.Config.ID == "" || len(disks) == 0 {
				return fmt.Errorf("--id and at least one --disk are required")
			}
			for _, d := range disks {
				path, size, hasSize := strings.Cut(d, ":")
				dc := chunk.DiskConfig{Path: path, Format: format, Preallocate: prealloc}
				if indexDir != "" {
					// One index directory per disk, named after the device path.
					name := strings.ReplaceAll(strings.TrimPrefix(path, "/"), "/", "_")
					dc.IndexDir = filepath.Join(indexDir, name+".index")
				}
				if hasSize {
					if dc.Size, err = parseSize(size); err != nil {
						return fmt.Errorf("--disk %q: %w", d, err)
					}
				}
				role.Config.Disks = append(role.Config.Disks, dc)
			}
			role.Cluster, role.Etcd, role.Logger, role.Registry = rf.cluster, eps, log, prometheus.NewRegistry()
			return cluster.RunChunk(cmd.Context(), role)
		},
	}
	rf.add(cmd)
	f := cmd.Flags()
	f.StringVar(&role.Config.ID, "id", "", "server id, stable across restarts (required)")
	f.StringVar(&role.Config.Zone, "zone", "z1", "zone label; shards of a stripe spread over zones")
	f.StringArrayVar(&disks, "disk", nil, "disk: a block device, or FILE:SIZE for a file disk (repeatable)")
	f.StringVar(&indexDir, "index-dir", "", "directory for the disks' indexes (required for block devices; default: beside each disk file)")
	f.BoolVar(&format, "format", false, "format given disks that carry no Wolke superblock (destroys what is on them)")
	f.BoolVar(&prealloc, "preallocate", false, "write new disk files in full (zeros) as they are made: they hold their space, and first writes to them are faster")
	f.StringVar(&role.Addr, "addr", "127.0.0.1:7200", "data protocol listen address")
	return cmd
}

func gatewayCmd() *cobra.Command {
	var (
		rf          roleFlags
		role        cluster.GatewayRole
		ec          string
		intentAfter time.Duration
	)
	cmd := &cobra.Command{
		Use:   "gateway",
		Short: "Run the S3 endpoint",
		Long: `Run one S3 gateway. It finds meta nodes and chunk servers through etcd; any
number of gateways can serve one cluster.`,
		Example: `  wolke gateway --cluster prod --addr :9000 --root-access-key AK --root-secret-key SK`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, eps, err := rf.setup()
			if err != nil {
				return err
			}
			if role.DataShards, role.ParityShards, err = parseEC(ec); err != nil {
				return err
			}
			if role.Root.AccessKey == "" {
				role.Root.AccessKey = os.Getenv("WOLKE_ROOT_ACCESS_KEY")
			}
			if role.Root.SecretKey == "" {
				role.Root.SecretKey = os.Getenv("WOLKE_ROOT_SECRET_KEY")
			}
			role.IntentAfter = intentAfter
			if intentAfter <= 0 {
				role.IntentAfter = -1 // record before the first shard
			}
			role.Cluster, role.Etcd, role.Logger, role.Registry = rf.cluster, eps, log, prometheus.NewRegistry()
			return cluster.RunGateway(cmd.Context(), role)
		},
	}
	rf.add(cmd)
	f := cmd.Flags()
	f.StringVar(&role.Addr, "addr", "127.0.0.1:9000", "S3 listen address")
	f.StringVar(&ec, "ec", "4+2", "erasure code for new objects: data+parity shards")
	f.DurationVar(&intentAfter, "intent-after", 10*time.Second,
		"writes running longer than this record an intent in meta so GC spares their shards; keep it far below the repair --gc-grace (0: every write, before its first shard)")
	f.StringVar(&role.Region, "region", "us-east-1", "region the endpoint answers for")
	f.StringVar(&role.Root.AccessKey, "root-access-key", "", "root access key (env WOLKE_ROOT_ACCESS_KEY)")
	f.StringVar(&role.Root.SecretKey, "root-secret-key", "", "root secret key (env WOLKE_ROOT_SECRET_KEY)")
	f.StringVar(&role.MasterKeyFile, "sse-master-key-file", "", "file of 32 bytes: the SSE-S3 master key, the same on every gateway (empty: SSE-S3 refused)")
	addGatewayFlags(cmd, &role) // devtls.go
	return cmd
}
