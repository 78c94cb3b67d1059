package e2e

import (
	"strings"
	"testing"
	"time"
)

// ebsKill9: what a client FLUSHed is all there after wolke dev dies with
// SIGKILL and starts again: the first writes of its extents (new chunks)
// and the overwrites after them, which each replica takes as an unsynced
// patch until the FLUSH. A write never flushed may read back old or new.
func ebsKill9(t *testing.T, c *Cluster, qemuIO, work, vol string) {
	uri := "nbd://" + c.nbdAddr() + "/" + vol
	run := func(readOnly bool, cmds ...string) (string, error) {
		args := []string{"-f", "raw"}
		if readOnly {
			args = append(args, "-r")
		}
		for _, cmd := range cmds {
			args = append(args, "-c", cmd)
		}
		out, err := c.RunErr(t, 2*time.Minute, work, qemuIO, append(args, uri)...)
		if err == nil && (strings.Contains(out, "Pattern verification failed") || strings.Contains(out, "failed:")) {
			err = errFailed
		}
		return out, err
	}
	must := func(cmds ...string) {
		t.Helper()
		if out, err := run(false, cmds...); err != nil {
			t.Fatalf("qemu-io %v: %v\n%s", cmds, err, out)
		}
	}
	must("write -P 0x11 0 8M", "flush")
	must("write -P 0x22 1M 64k", "write -P 0x33 3M 4k", "write -P 0x44 5M 1M", "write -P 0x66 7M 12k", "flush")
	must("write -P 0x55 6M 4k") // never flushed

	c.Kill()
	c.Start()

	reads := []string{
		"read -P 0x11 0 1M", "read -P 0x22 1M 64k", "read -P 0x11 1088k 1984k",
		"read -P 0x33 3M 4k", "read -P 0x11 3076k 2044k", "read -P 0x44 5M 1M",
		"read -P 0x11 6148k 1020k", "read -P 0x66 7M 12k", "read -P 0x11 7180k 1012k",
	}
	// The dead process's attach lease may hold the volume for a while.
	deadline := time.Now().Add(45 * time.Second)
	for {
		out, err := run(true, reads...)
		switch {
		case err == nil:
			return
		case strings.Contains(out, "Pattern verification failed"):
			t.Fatalf("flushed data lost or changed after kill -9:\n%s", out)
		case time.Now().After(deadline):
			t.Fatalf("volume not readable 45 s after the restart: %v\n%s", err, out)
		}
		time.Sleep(time.Second)
	}
}
