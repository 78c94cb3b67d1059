package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wolke-cloud/wolke/cluster"
)

func devCmd() *cobra.Command {
	var (
		opts        cluster.Options
		ec          string
		diskSize    string
		users       []string
		logLevel    string
		etcd        string
		pprofAt     string
		wcache      string
		wcacheTotal string
		volEC       string
	)
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the whole cloud in one process on 127.0.0.1",
		Long: `Run the whole cloud in one process: an embedded etcd, meta node(s), chunk
servers on disk files (sparse, or written in full with --preallocate) and the
S3 endpoint, all on 127.0.0.1. Data is kept under --dir across restarts.
Ctrl-C shuts down cleanly.

Root credentials come from --root-access-key/--root-secret-key (or
WOLKE_ROOT_ACCESS_KEY/WOLKE_ROOT_SECRET_KEY); without them a pair is made on
first start, kept in the data directory and printed.`,
		Example: `  wolke dev
  wolke dev --dir /tmp/w --s3-addr 127.0.0.1:9100 --meta 3 --chunks 8
  aws --endpoint-url http://127.0.0.1:9000 s3 mb s3://photos`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			useIOProcs()
			var err error
			if opts.DataShards, opts.ParityShards, err = parseEC(ec); err != nil {
				return err
			}
			if opts.DiskSize, err = parseSize(diskSize); err != nil {
				return fmt.Errorf("--disk-size: %w", err)
			}
			for _, u := range users {
				user, err := parseUser(u)
				if err != nil {
					return err
				}
				opts.Users = append(opts.Users, user)
			}
			if etcd != "" {
				opts.Etcd = strings.Split(etcd, ",")
			}
			if opts.Volume.DataShards, opts.Volume.ParityShards, err = parseVolumeEC(volEC); err != nil {
				return err
			}
			if opts.Volume.WriteCache, err = parseWriteCache("volume-write-cache", wcache); err != nil {
				return err
			}
			if opts.Volume.WriteCacheTotal, err = parseWriteCache("volume-write-cache-total", wcacheTotal); err != nil {
				return err
			}
			if opts.Root.AccessKey == "" {
				opts.Root.AccessKey = os.Getenv("WOLKE_ROOT_ACCESS_KEY")
			}
			if opts.Root.SecretKey == "" {
				opts.Root.SecretKey = os.Getenv("WOLKE_ROOT_SECRET_KEY")
			}
			level, err := parseLevel(logLevel)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
				return err
			}
			logFile, err := os.OpenFile(filepath.Join(opts.Dir, "wolke.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
			if err != nil {
				return err
			}
			defer logFile.Close()
			// Everything goes to DIR/wolke.log; warnings and errors to stderr too.
			opts.Logger = slog.New(teeHandler{
				slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: level}),
				slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}),
			})
			out := cmd.OutOrStdout()
			if err := servePprof(cmd.Context(), out, pprofAt); err != nil {
				return err
			}
			fmt.Fprintf(out, "Starting Wolke in %s ...\n", opts.Dir)
			if opts.PreallocateDisks {
				opts.Preallocating = preallocLine(out)
			}
			start := time.Now()
			c, err := cluster.Open(cmd.Context(), opts)
			if err != nil {
				return err
			}
			printBanner(out, c, &opts, time.Since(start))
			printTLS(out, c, &opts)
			<-cmd.Context().Done()
			fmt.Fprintln(out, "\nShutting down ...")
			if err := c.Close(); err != nil {
				return err
			}
			fmt.Fprintln(out, "Stopped cleanly.")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Dir, "dir", "./wolke-data", "data directory, kept across restarts")
	f.StringVar(&opts.S3Addr, "s3-addr", "127.0.0.1:9000", "address of the S3 endpoint")
	addTLSFlags(f, &opts)
	f.StringVar(&opts.NBDAddr, "nbd-addr", "127.0.0.1:10809", `address of the NBD server for volumes ("" disables it)`)
	f.IntVar(&opts.MetaNodes, "meta", 1, "number of meta (Raft) nodes: 1, 3 or 5")
	f.IntVar(&opts.ChunkServers, "chunks", 6, "number of chunk servers")
	f.IntVar(&opts.DisksPerServer, "disks-per-chunk", 1, "disk files per chunk server")
	f.StringVar(&diskSize, "disk-size", "16GiB", "size of each disk file")
	f.BoolVar(&opts.PreallocateDisks, "preallocate", false, "write new disk files in full (zeros) as they are made: they hold their space, and first writes to them are faster than to sparse files")
	f.IntVar(&opts.Zones, "zones", 3, "zone labels spread over the chunk servers")
	f.Var(repairAfterFlag{&opts.RepairAfter}, "repair-after", "how long a chunk server may be gone before its disks are rebuilt elsewhere (0: at once)")
	f.StringVar(&ec, "ec", "4+2", "erasure code: data+parity shards")
	f.StringVar(&opts.Region, "region", "us-east-1", "region the S3 endpoint answers for")
	f.StringVar(&opts.Root.AccessKey, "root-access-key", "", "root access key (env WOLKE_ROOT_ACCESS_KEY)")
	f.StringVar(&opts.Root.SecretKey, "root-secret-key", "", "root secret key (env WOLKE_ROOT_SECRET_KEY)")
	f.StringArrayVar(&users, "user", nil, "extra user NAME:ACCESS_KEY:SECRET_KEY (repeatable)")
	f.StringVar(&etcd, "etcd", "", "external etcd endpoints, comma-separated (default: embedded)")
	f.StringVar(&logLevel, "log-level", "info", "log level for DIR/wolke.log: debug, info, warn, error")
	f.StringVar(&wcache, "volume-write-cache", defaultWriteCache, writeCacheHelp)
	f.StringVar(&wcacheTotal, "volume-write-cache-total", defaultWriteCacheTotal, writeCacheTotalHelp)
	f.StringVar(&volEC, "volume-ec", "auto", volumeECHelp)
	f.StringVar(&pprofAt, "pprof-addr", "", "serve Go's pprof profiles on this address (debugging)")
	return cmd
}

// preallocLine returns a progress reporter for the preallocation of disk
// files: one line, redrawn at each whole percent, ended at 100%.
func preallocLine(w io.Writer) func(done, total int64) {
	last := -1
	return func(done, total int64) {
		pct := int(done * 100 / max(total, 1))
		if pct == last {
			return
		}
		last = pct
		fmt.Fprintf(w, "\rPreallocating disk files: %5.1f of %.1f GiB (%d%%)", float64(done)/(1<<30), float64(total)/(1<<30), pct)
		if done >= total {
			fmt.Fprintln(w)
		}
	}
}

func printBanner(w io.Writer, c *cluster.Cluster, o *cluster.Options, took time.Duration) {
	ep := c.S3Endpoint()
	root := c.Root()
	fmt.Fprintf(w, `
Wolke is up in %s (cluster %s, data in %s)

  S3 endpoint   %s
  health        %s/_wolke/health
  metrics       %s/_wolke/metrics
  etcd          %s
  storage       %d meta node(s), %d chunk servers, %d+%d erasure coding
  log           %s

`, took.Round(time.Millisecond), c.ClusterID(), o.Dir, ep, ep, ep, strings.Join(c.EtcdEndpoints(), ","),
		o.MetaNodes, o.ChunkServers, o.DataShards, o.ParityShards, filepath.Join(o.Dir, "wolke.log"))
	if a := c.NBDAddr(); a != "" {
		fmt.Fprintf(w, "  NBD volumes   nbd://%s/<volume id>   (EC2 API: aws ec2 --endpoint-url %s)\n", a, ep)
		fmt.Fprintf(w, "                extents in %s\n\n", volumeLayout(o))
	}
	kept := ""
	if c.RootGenerated {
		kept = fmt.Sprintf(" (generated now, kept in %s)", filepath.Join(o.Dir, "root-credentials.json"))
	}
	fmt.Fprintf(w, `Root credentials%s:
  access key    %s
  secret key    %s

Use it with aws-cli (paste once):
  aws configure set aws_access_key_id %s --profile wolke
  aws configure set aws_secret_access_key %s --profile wolke
  aws configure set region %s --profile wolke
  aws --profile wolke --endpoint-url %s s3 mb s3://my-bucket

Press Ctrl-C to stop.
`, kept, root.AccessKey, root.SecretKey, root.AccessKey, root.SecretKey, o.Region, ep)
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

const volumeECHelp = `how extents written whole of st1 and sc1 volumes are stored: "k+m" erasure
coded shards (on k+m servers), "off" (3 replicas, as every other extent), or
"auto": the --ec code when it has 2 or more parity shards`

// parseVolumeEC reads --volume-ec into volume.Config's DataShards and
// ParityShards (cluster.Options.Volume): 0, 0 for auto; -1 for off.
func parseVolumeEC(s string) (int, int, error) {
	switch s {
	case "auto", "":
		return 0, 0, nil
	case "off":
		return -1, 0, nil
	}
	k, m, err := parseEC(s)
	if err != nil {
		return 0, 0, fmt.Errorf("--volume-ec %q: want DATA+PARITY (e.g. 4+2), off or auto", s)
	}
	if m < 1 {
		return 0, 0, fmt.Errorf("--volume-ec %s: want at least one parity shard", s)
	}
	return k, m, nil
}

// volumeLayout says how the banner's volumes keep their extents.
func volumeLayout(o *cluster.Options) string {
	k, m := o.Volume.DataShards, o.Volume.ParityShards
	if k == 0 && m == 0 && o.ParityShards >= 2 {
		k, m = o.DataShards, o.ParityShards
	}
	if k <= 0 {
		return "3 replicas"
	}
	return fmt.Sprintf("3 replicas; st1/sc1 volumes' extents written whole: %d+%d erasure coding", k, m)
}
