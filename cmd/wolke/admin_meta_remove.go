package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func adminMetaRemoveCmd() *cobra.Command {
	var (
		af    adminFlags
		force bool
	)
	cmd := &cobra.Command{
		Use:   "remove ID",
		Short: "Remove a lost member from the meta Raft group",
		Long: `Remove a member from the meta Raft group, so that a replacement can take its
place and the quorum is counted over the members that are left.

It refuses to remove the last voter. Without --force it also refuses to remove
a member that is healthy (stop its process first: a removed node that still
runs only disturbs the others), and a removal that would leave fewer healthy
voters than a quorum of the members left.

A replacement node then joins with an empty --dir, a new --id and --join
pointing at a live member's gRPC address (wolke meta --join does the add); it
catches up from a snapshot and the log. Restarting the removed node with its
old id and an empty directory is refused while that id is still a member, and
works once it is removed.`,
		Example: `  wolke admin meta                 # find the member marked unreachable
  wolke admin meta remove m1
  wolke meta --id m4 --dir /var/lib/wolke/meta-m4 --join 10.0.0.2:7100 --raft-addr 10.0.0.4:7000 --grpc-addr 10.0.0.4:7100
  wolke admin meta remove m2 --force   # even though it answers`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			adm, err := af.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer adm.Close()
			if err := adm.RemoveMeta(cmd.Context(), args[0], force); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %s from the meta group\n", args[0])
			return nil
		},
	}
	af.add(cmd.Flags())
	cmd.Flags().BoolVar(&force, "force", false, "remove the member even if it is healthy or the removal leaves no healthy quorum")
	return cmd
}
