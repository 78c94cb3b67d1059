// Command wolke is the one Wolke binary: `wolke dev` runs the whole cloud in
// one process; `wolke meta`, `wolke chunk` and `wolke gateway` run one role
// each. Flags and wiring only: the work is in the packages.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := &cobra.Command{
		Use:   "wolke",
		Short: "Wolke: a self-hosted, AWS-compatible storage cloud",
		Long: `Wolke is a self-hosted, AWS-compatible storage cloud: an S3 object store on
erasure-coded chunk servers with Raft metadata.

Start here:
  wolke dev           the whole cloud in one process, data in ./wolke-data

Run one role per node in production:
  wolke meta          a metadata (Raft) node
  wolke chunk         a chunk server owning disks
  wolke gateway       the S3 endpoint
  wolke block         volumes (EBS) over NBD`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(devCmd(), metaCmd(), chunkCmd(), gatewayCmd(), blockCmd(), repairCmd(), adminCmd(), volumeCmd(), benchCmd(), versionCmd())
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "wolke:", err)
		os.Exit(1)
	}
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "wolke", version())
		},
	}
}
