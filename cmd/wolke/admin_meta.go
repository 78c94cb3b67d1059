package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wolke-cloud/wolke/bench/durability"
	"github.com/wolke-cloud/wolke/cluster"
)

func adminMetaCmd() *cobra.Command {
	var (
		af     adminFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "meta",
		Short: "Show the meta Raft group: members, leader, health, how far each has applied",
		Long: `Show the meta Raft group. The configuration comes from the leader; every
member is then probed directly (1.5 s bound) for its own raft state: a member
that does not answer is "unreachable", a follower that has not heard from the
leader for 5 s is cut off. LAG is how many entries a member's state machine is
behind the leader's commit index; a replacement is caught up when it is healthy
with a lag near 0.

Replacing a lost meta node (see README "Replacing a meta node"):
  1. wolke admin meta                   # the lost member shows "unreachable"
  2. wolke admin meta remove m1         # take it out of the group
  3. wolke meta --id m4 --dir EMPTY --join LIVE_GRPC_ADDR ...   # the replacement
  4. wolke admin meta                   # wait for m4 healthy with LAG ~0`,
		Example: `  wolke admin meta
  wolke admin meta --cluster prod --etcd 10.0.0.5:2379 --json
  wolke admin meta remove m1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			adm, err := af.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer adm.Close()
			r, err := adm.Meta(cmd.Context())
			if err != nil {
				return err
			}
			return printMeta(cmd.OutOrStdout(), r, asJSON)
		},
	}
	af.add(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.AddCommand(adminMetaRemoveCmd())
	return cmd
}

func printMeta(w io.Writer, r *cluster.MetaReport, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	leader := r.Leader
	if leader == "" {
		leader = "(none)"
	}
	fmt.Fprintf(w, "cluster %s: leader %s, commit index %d, %d of %d members healthy\n",
		r.Cluster, leader, r.CommitIndex, r.Healthy, len(r.Members))
	if r.Problem != "" {
		fmt.Fprintf(w, "PROBLEM: %s\n", r.Problem)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tROLE\tSUFFRAGE\tAPPLIED\tLAG\tCONTACT\tRAFT\tGRPC\tSTATUS")
	for _, m := range r.Members {
		role := "follower"
		if m.Leader {
			role = "leader"
		}
		applied, lag, contact, status := "-", "-", "-", "healthy"
		if m.Reachable {
			applied, lag = fmt.Sprint(m.AppliedIndex), fmt.Sprint(m.Lag)
			switch {
			case m.LastContactMS < 0:
				contact = "never"
			case !m.Leader:
				contact = (time.Duration(m.LastContactMS) * time.Millisecond).String()
			}
		}
		if !m.Healthy {
			status = m.Problem
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, role, m.Suffrage, applied, lag, contact, m.RaftAddr, m.GRPCAddr, status)
	}
	return tw.Flush()
}

// durabilityReport is what `wolke admin durability --json` prints.
type durabilityReport struct {
	Inputs     cluster.DurabilityInputs `json:"inputs"`
	RepairFrom string                   `json:"repair_rate_from"` // "measured" or "flag"
	Params     durability.Params        `json:"params"`
	Estimate   durability.Estimate      `json:"estimate"`
	RefDisks   int                      `json:"reference_disks"`
	References []durabilityRef          `json:"reference"`
}

type durabilityRef struct {
	Code     string              `json:"code"`
	Params   durability.Params   `json:"params"`
	Estimate durability.Estimate `json:"estimate"`
}

func adminDurabilityCmd() *cobra.Command {
	var (
		af         adminFlags
		asJSON     bool
		afr        float64
		repairMBps float64
		years      float64
		sample     time.Duration
		ec         string
	)
	cmd := &cobra.Command{
		Use:   "durability",
		Short: "Estimate MTTDL and nines of durability of the running cluster",
		Long: `Estimate the mean time to data loss (MTTDL) and the durability in nines of the
running cluster from its erasure code (k+m of its placement groups), its active
disks and their size (from meta), a disk annual failure rate (--afr) and the
repair rate: measured from the repair worker's published status when a repair
pass is running (sampled over --sample), else --repair-mbps. The model is
bench/durability's closed form. A reference table for 4+2, 8+3 and 10+4 on 100
disks of the same size and repair rate follows.`,
		Example: `  wolke admin durability
  wolke admin durability --afr 0.05 --repair-mbps 50 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			adm, err := af.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer adm.Close()
			in, err := adm.DurabilityInputs(cmd.Context(), sample)
			if err != nil {
				return err
			}
			if in.DataShards == 0 {
				if _, err := fmt.Sscanf(ec, "%d+%d", &in.DataShards, &in.ParityShards); err != nil {
					return fmt.Errorf("--ec %q: want k+m: %w", ec, err)
				}
			}
			rep := durabilityReport{Inputs: *in, RepairFrom: "flag", RefDisks: 100}
			rate := repairMBps
			if in.RepairMBps > 0 {
				rate, rep.RepairFrom = in.RepairMBps, "measured"
			}
			rep.Params = durability.Params{Disks: in.Disks, AFR: afr, DiskSize: in.DiskSize, RepairMBps: rate,
				DataShards: in.DataShards, ParityShards: in.ParityShards, Years: years}
			if rep.Estimate, err = durability.MTTDL(rep.Params); err != nil {
				return err
			}
			for _, c := range [][2]int{{4, 2}, {8, 3}, {10, 4}} {
				p := rep.Params
				p.Disks, p.DataShards, p.ParityShards = rep.RefDisks, c[0], c[1]
				e, err := durability.MTTDL(p)
				if err != nil {
					return err
				}
				rep.References = append(rep.References, durabilityRef{Code: fmt.Sprintf("%d+%d", c[0], c[1]), Params: p, Estimate: e})
			}
			return printDurability(cmd.OutOrStdout(), &rep, asJSON)
		},
	}
	af.add(cmd.Flags())
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.Float64Var(&afr, "afr", 0.02, "annual failure rate of one disk (0.02 = 2 %/yr)")
	f.Float64Var(&repairMBps, "repair-mbps", 100, "rebuild rate of one disk in MB/s when none can be measured")
	f.Float64Var(&years, "years", 1, "span of the loss probability, in years")
	f.StringVar(&ec, "ec", "4+2", "erasure code k+m to assume while the cluster has no placement group yet")
	f.DurationVar(&sample, "sample", 3*time.Second, "how long to watch a running repair to measure its rate (0: never)")
	return cmd
}

func printDurability(w io.Writer, r *durabilityReport, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	p := r.Params
	fmt.Fprintf(w, "cluster: %d+%d on %d active disks of %s, AFR %.2f %%/yr, repair %.1f MB/s (%s), repair window %s\n",
		p.DataShards, p.ParityShards, p.Disks, bytesText(p.DiskSize), 100*p.AFR, p.RepairMBps, r.RepairFrom,
		p.RepairTime().Round(time.Second))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "CODE\tDISKS\tGROUPS\tMTTDL (years)\tP(loss in %g y)\tNINES\n", p.Years)
	row := func(code string, p durability.Params, e durability.Estimate) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.3g\t%.3g\t%.1f\n", code, p.Disks, p.Groups(), e.MTTDLYears, e.PLoss, float64(e.Nines))
	}
	row(fmt.Sprintf("%d+%d (this cluster)", p.DataShards, p.ParityShards), p, r.Estimate)
	for _, ref := range r.References {
		row(ref.Code, ref.Params, ref.Estimate)
	}
	return tw.Flush()
}
