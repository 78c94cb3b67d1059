package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wolke-cloud/wolke/cluster"
)

// adminFlags say where the cluster is: --etcd and --cluster, or the data
// directory of a `wolke dev` (--dir, the default when --cluster is empty).
type adminFlags struct {
	etcd    string
	cluster string
	dir     string
}

func (a *adminFlags) add(f *pflag.FlagSet) {
	f.StringVar(&a.etcd, "etcd", "127.0.0.1:2379", "etcd endpoints, comma-separated (with --cluster)")
	f.StringVar(&a.cluster, "cluster", "", "cluster name; empty: the wolke dev cluster in --dir")
	f.StringVar(&a.dir, "dir", "./wolke-data", "data directory of a wolke dev cluster (when --cluster is empty)")
}

func (a *adminFlags) dial(ctx context.Context) (*cluster.Admin, error) {
	etcd, id := strings.Split(a.etcd, ","), a.cluster
	if id == "" {
		var err error
		if etcd, id, err = cluster.DevTarget(a.dir); err != nil {
			return nil, fmt.Errorf("no --cluster given and %w", err)
		}
	}
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	return cluster.DialAdmin(dctx, etcd, id)
}

func adminCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Inspect and manage a running cluster",
		Long: `Inspect and manage a running cluster. Commands find the cluster through etcd
(--etcd, --cluster) or, for wolke dev, through its data directory (--dir).`,
	}
	cmd.AddCommand(adminStatusCmd(), adminDiskCmd(), adminMetaCmd(), adminDurabilityCmd())
	return cmd
}

func adminStatusCmd() *cobra.Command {
	var (
		af         adminFlags
		asJSON     bool
		watch      bool
		waitHealth time.Duration
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show servers, disks, placement groups, repair and scrub progress",
		Long: `Show chunk servers, disks (fill, state, zone), placement groups that are
degraded or being repaired, and the progress of repair and scrubbing.

With --wait-healthy DURATION it waits until nothing is degraded or being
repaired and exits 0, or exits 1 when DURATION has passed.`,
		Example: `  wolke admin status
  wolke admin status --watch
  wolke admin status --wait-healthy 5m
  wolke admin status --cluster prod --etcd 10.0.0.5:2379 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			adm, err := af.dial(ctx)
			if err != nil {
				return err
			}
			defer adm.Close()
			out := cmd.OutOrStdout()
			var deadline time.Time
			if waitHealth > 0 {
				deadline = time.Now().Add(waitHealth)
			}
			for {
				r, err := adm.Status(ctx)
				if err != nil {
					return err
				}
				if watch && !asJSON {
					fmt.Fprint(out, "\033[H\033[2J")
				}
				if err := printReport(out, r, asJSON); err != nil {
					return err
				}
				switch {
				case waitHealth > 0 && r.Healthy:
					return nil
				case waitHealth > 0 && time.Now().After(deadline):
					return fmt.Errorf("cluster not healthy after %v", waitHealth)
				case waitHealth == 0 && !watch:
					return nil
				}
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(2 * time.Second):
				}
			}
		},
	}
	af.add(cmd.Flags())
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.BoolVar(&watch, "watch", false, "refresh every 2s until Ctrl-C")
	f.DurationVar(&waitHealth, "wait-healthy", 0, "wait up to this long for a healthy cluster; exit 1 if it is not")
	return cmd
}

func adminDiskCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "disk", Short: "Manage disks"}
	var (
		af      adminFlags
		wait    bool
		timeout time.Duration
	)
	drain := &cobra.Command{
		Use:   "drain DISK-ID",
		Short: "Move a disk's shards to other disks, then remove it",
		Long: `Mark a disk DRAINING: the repair worker gives its places in placement groups
to disks on servers the groups do not use yet and copies its shards there
(reconstructing those it cannot read). Once no group uses the disk and a
repair pass found every stripe whole, the disk is set REMOVED: it gets no new
data, its chunks are collected as garbage, and it can be taken out while its
chunk server keeps running with its other disks.

With --wait it shows the progress and returns once the disk is REMOVED.`,
		Example: `  wolke admin disk drain 3f0c9a4e-... --wait
  wolke admin disk drain 3f0c9a4e-... --wait --timeout 2h`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			adm, err := af.dial(ctx)
			if err != nil {
				return err
			}
			defer adm.Close()
			if err := adm.DrainDisk(ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "disk %s is draining\n", args[0])
			if !wait {
				return nil
			}
			return waitDrained(ctx, cmd.OutOrStdout(), adm, args[0], time.Second)
		},
	}
	af.add(drain.Flags())
	drain.Flags().BoolVar(&wait, "wait", false, "show the progress and return once the disk is REMOVED")
	drain.Flags().DurationVar(&timeout, "timeout", 0, "with --wait: give up after this long (0: never)")
	cmd.AddCommand(drain)
	return cmd
}

func printReport(w io.Writer, r *cluster.Report, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	health := "HEALTHY"
	if !r.Healthy {
		health = "NOT HEALTHY"
	}
	fmt.Fprintf(w, "cluster %s: %s  (meta nodes: %s)\n", r.Cluster, health, strings.Join(r.MetaNodes, ", "))
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  ! %s\n", p)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DISK\tSERVER\tZONE\tSTATE\tUP\tFILL\tGROUPS")
	for _, d := range r.Disks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\t%s\t%d\n", d.ID, d.Server, d.Zone, d.State, d.Up, fill(d.Used, d.Capacity), d.Groups)
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
	down := 0
	for _, g := range r.Groups {
		if g.Down > 0 || g.Repairing {
			if down == 0 {
				fmt.Fprintln(tw, "GROUP\tSHAPE\tEPOCH\tDOWN\tREPAIRING")
			}
			down++
			fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%v\n", g.ID, g.Shape, g.Epoch, g.Down, g.Repairing)
		}
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "placement groups: %d, %d degraded or repairing\n", len(r.Groups), down)
	ds := r.Durability
	if ds == nil {
		fmt.Fprintln(w, "repair: no report yet")
		return nil
	}
	rp := ds.Repair
	state := "idle"
	if rp.Running {
		state = "running"
	}
	fmt.Fprintf(w, "repair (%s, worker %s, %d passes, last ended %s): %d stripes, %d rebuilt shards (%s), %d failures, %d garbage chunks deleted\n",
		state, rp.Worker, rp.Passes, ago(rp.PassEnded), rp.Stripes, rp.ShardsRebuilt, bytesText(rp.BytesRebuilt), rp.Failures, rp.GCDeleted)
	if rp.Found > 0 {
		fmt.Fprintf(w, "  rebuilding %s %d/%d stripes\n", bar(rp.Found-rp.Queue, rp.Found, 30), rp.Found-rp.Queue, rp.Found)
	}
	if rp.ShardsCopied > 0 {
		fmt.Fprintf(w, "  of the rebuilt shards %d (%s) were copied from an old copy, not reconstructed\n", rp.ShardsCopied, bytesText(rp.BytesCopied))
	}
	for _, d := range rp.Drains {
		p := &cluster.DrainProgress{Disk: d.Disk, State: "draining", InGroups: d.InGroups, Reported: true, VolumeExtents: d.VolumeExtents,
			ShardsMoved: d.ShardsMoved, ShardsTotal: d.ShardsMoved + d.ShardsLeft, BytesMoved: d.BytesMoved, BytesTotal: d.BytesMoved + d.BytesLeft}
		if d.Removed {
			p.State = "removed"
		}
		fmt.Fprintf(w, "drain (%s): %s\n", p.State, drainLine(p))
	}
	if rp.VolumeChunksRepaired > 0 {
		fmt.Fprintf(w, "  block volume chunks re-replicated: %d (%s written)\n", rp.VolumeChunksRepaired, bytesText(rp.VolumeBytesRepaired))
	}
	if rp.VolumeExtentsAtRisk > 0 {
		fmt.Fprintf(w, "  ! %d block volume chunks have a replica on a disk that is not active (%d of attached volumes: their writers move them)\n",
			rp.VolumeExtentsAtRisk, rp.VolumeChunksWaiting)
	}
	rb := rp.Rebalance
	state = "idle"
	if rb.Active {
		state = "moving"
	}
	fmt.Fprintf(w, "rebalance (%s): disk fill spread %.1f points, %d group members moved (%d in the last pass)\n",
		state, rb.SpreadPct, rb.Moves, rb.LastMoves)
	for _, id := range sortedNames(ds.Scrub) {
		p := ds.Scrub[id]
		fmt.Fprintf(w, "scrub %s: %d passes, %d chunks (%s) checked this pass, %d bad found, last pass ended %s\n",
			id, p.Passes, p.Chunks, bytesText(p.Bytes), p.Bad, ago(p.PassEnded))
	}
	return nil
}

func bar(done, total, width int) string {
	if total <= 0 {
		return ""
	}
	n := done * width / total
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}

func fill(used, capacity int64) string {
	if used < 0 || capacity <= 0 {
		return "?"
	}
	return fmt.Sprintf("%.1f%% of %s", 100*float64(used)/float64(capacity), bytesText(capacity))
}

func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return time.Since(t).Round(time.Second).String() + " ago"
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// repairAfterFlag sets cluster.Options.RepairAfter from --repair-after,
// where 0 means at once (Options takes a negative value for that).
type repairAfterFlag struct{ d *time.Duration }

func (f repairAfterFlag) String() string {
	if f.d == nil || *f.d == 0 {
		return "10m0s"
	}
	if *f.d < 0 {
		return "0s"
	}
	return f.d.String()
}

func (f repairAfterFlag) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	if v < 0 {
		return fmt.Errorf("negative duration")
	}
	if v == 0 {
		v = -1
	}
	*f.d = v
	return nil
}

func (repairAfterFlag) Type() string { return "duration" }
