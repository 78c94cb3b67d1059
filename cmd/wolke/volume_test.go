package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/wolke-cloud/wolke/cluster"
)

// TestVolumeCommand runs `wolke volume` against an in-process cluster.
func TestVolumeCommand(t *testing.T) {
	c := cluster.Start(t, cluster.Options{NBDAddr: "127.0.0.1:0"})
	root := c.Root()
	run := func(args ...string) string {
		t.Helper()
		cmd := volumeCmd()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		cmd.SetArgs(append(args, "--endpoint", c.S3Endpoint(), "--access-key", root.AccessKey, "--secret-key", root.SecretKey))
		if err := cmd.ExecuteContext(context.Background()); err != nil {
			t.Fatalf("wolke volume %v: %v\n%s", args, err, out.String())
		}
		return strings.TrimSpace(out.String())
	}
	vol := run("create", "--size", "2", "--zone", "z3")
	if !strings.HasPrefix(vol, "vol-") {
		t.Fatalf("create printed %q", vol)
	}
	if ls := run("ls"); !strings.Contains(ls, vol) || !strings.Contains(ls, "2 GiB") || !strings.Contains(ls, "z3") {
		t.Errorf("ls:\n%s", ls)
	}
	run("resize", vol, "--size", "3")
	if ls := run("ls"); !strings.Contains(ls, "3 GiB") {
		t.Errorf("ls after resize:\n%s", ls)
	}
	snap := run("snapshot", vol, "--description", "nightly")
	if !strings.HasPrefix(snap, "snap-") {
		t.Fatalf("snapshot printed %q", snap)
	}
	if ss := run("snapshots"); !strings.Contains(ss, snap) || !strings.Contains(ss, "nightly") {
		t.Errorf("snapshots:\n%s", ss)
	}
	if uri := run("attach", vol, "--nbd-addr", c.NBDAddr()); uri != "nbd://"+c.NBDAddr()+"/"+vol {
		t.Errorf("attach printed %q", uri)
	}
	run("rm", snap, vol)
	if ls := run("ls"); strings.Contains(ls, vol) {
		t.Errorf("ls after rm:\n%s", ls)
	}
}
