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
	// Two writes, 4 KiB in extent 1 and 4 KiB in extent 3: changes lists
	// those extents, 1 MiB each.
	x, _, err := c.Volumes().Open(context.Background(), vol, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{1<<20 + 4096, 3<<20 + 8192} {
		if err := x.WriteAt(context.Background(), bytes.Repeat([]byte{1}, 4096), off, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	snap2 := run("snapshot", vol)
	want := "OFFSET   LENGTH\n1048576  1048576\n3145728  1048576\n2 ranges, 2 MiB of a 3 GiB volume"
	if ch := run("changes", snap, snap2); ch != want {
		t.Errorf("changes:\n%s\nwant\n%s", ch, want)
	}
	if ch := run("changes", snap); !strings.HasPrefix(ch, "OFFSET") || !strings.HasSuffix(ch, "0 ranges, 0 MiB of a 3 GiB volume") {
		t.Errorf("changes of the empty snapshot:\n%s", ch)
	}
	run("rm", snap, snap2, vol)
	if ls := run("ls"); strings.Contains(ls, vol) {
		t.Errorf("ls after rm:\n%s", ls)
	}
}
