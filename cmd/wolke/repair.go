package main

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/wolke-cloud/wolke/cluster"
)

func repairCmd() *cobra.Command {
	var (
		rf   roleFlags
		role cluster.RepairRole
		rate string
	)
	cmd := &cobra.Command{
		Use:   "repair",
		Short: "Run the repair worker: rebuild lost shards, collect garbage",
		Long: `Run the repair and garbage collection worker. Several may run; they elect one
leader through etcd. It declares a disk lost once its chunk server has been
gone for --repair-after, gives its places in placement groups to healthy disks,
rebuilds every missing or damaged shard from the others, and deletes chunks no
object references that are older than --gc-grace.`,
		Example: `  wolke repair --cluster prod --id r1 --etcd 10.0.0.5:2379 --rate 200MiB`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, eps, err := rf.setup()
			if err != nil {
				return err
			}
			if role.ID == "" {
				return fmt.Errorf("--id is required")
			}
			if rate != "0" && rate != "" {
				if role.RateLimit, err = parseSize(rate); err != nil {
					return fmt.Errorf("--rate: %w", err)
				}
			}
			role.Cluster, role.Etcd, role.Logger, role.Registry = rf.cluster, eps, log, prometheus.NewRegistry()
			return cluster.RunRepair(cmd.Context(), role)
		},
	}
	rf.add(cmd)
	f := cmd.Flags()
	f.StringVar(&role.ID, "id", "", "worker id in the leader election (required)")
	f.DurationVar(&role.RepairAfter, "repair-after", defaultRepairAfter, "how long a chunk server may be gone before its disks are rebuilt elsewhere (0: at once)")
	f.DurationVar(&role.Interval, "interval", 0, "time between repair passes (default 30s)")
	f.StringVar(&rate, "rate", "64MiB", "bytes per second rebuilt shards are written at (0: unlimited)")
	f.DurationVar(&role.GCGrace, "gc-grace", defaultGCGrace, "age of unreferenced chunks before they are deleted")
	f.DurationVar(&role.VolumeGCGrace, "volume-gc-grace", defaultGCGrace, "age of block volume chunks no volume or snapshot maps before they are deleted (0: never)")
	return cmd
}

// Defaults of the repair worker's flags.
const (
	defaultRepairAfter = 10 * time.Minute
	defaultGCGrace     = time.Hour
)
