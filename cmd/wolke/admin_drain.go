package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/wolke-cloud/wolke/cluster"
)

// drainProgress reads how far the drain of a disk has come (*cluster.Admin).
type drainProgress interface {
	DrainProgress(ctx context.Context, id string) (*cluster.DrainProgress, error)
}

// waitDrained redraws a progress line every poll until the disk is
// REMOVED; it fails when the disk leaves DRAINING otherwise (set active
// again) or ctx ends.
func waitDrained(ctx context.Context, w io.Writer, adm drainProgress, id string, poll time.Duration) error {
	for {
		p, err := adm.DrainProgress(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("disk %s not drained: %w", id, ctx.Err())
			}
			return err
		}
		fmt.Fprintf(w, "\r\033[K%s", drainLine(p))
		switch p.State {
		case "removed":
			fmt.Fprintf(w, "\ndisk %s is drained and removed\n", id)
			return nil
		case "draining":
		default:
			fmt.Fprintln(w)
			return fmt.Errorf("disk %s is %s: the drain was stopped", id, p.State)
		}
		select {
		case <-ctx.Done():
			fmt.Fprintln(w)
			return fmt.Errorf("disk %s not drained: %w", id, ctx.Err())
		case <-time.After(poll):
		}
	}
}

// drainLine is the progress of one drain on one line.
func drainLine(p *cluster.DrainProgress) string {
	if p.State == "removed" {
		return fmt.Sprintf("%s %s %d/%d shards, %s/%s", p.Disk, bar(1, 1, 30), p.ShardsMoved, p.ShardsTotal,
			bytesText(p.BytesMoved), bytesText(p.BytesTotal))
	}
	if !p.Reported {
		return fmt.Sprintf("%s waiting for the repair worker's next pass (in %d placement groups)", p.Disk, p.InGroups)
	}
	line := fmt.Sprintf("%s %s %d/%d shards, %s/%s moved", p.Disk, bar(int(p.BytesMoved), int(max(p.BytesTotal, 1)), 30),
		p.ShardsMoved, p.ShardsTotal, bytesText(p.BytesMoved), bytesText(p.BytesTotal))
	if p.InGroups > 0 {
		line += fmt.Sprintf(", still in %d placement groups", p.InGroups)
	} else if p.VolumeExtents > 0 {
		line += fmt.Sprintf(", waiting for %d block volume extents to leave it", p.VolumeExtents)
	} else if p.ShardsMoved >= p.ShardsTotal {
		line += ", verifying"
	}
	return line
}
