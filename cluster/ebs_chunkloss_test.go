package cluster

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/block/volume"
	"github.com/wolke-cloud/wolke/chunk/disk"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// TestEBSChunkLoss: a chunk server holding replicas of a volume is lost
// under a running fio verify job over NBD: stopped, or its disk failing
// every I/O with EIO. The job must not fail, its verify pass must read
// back every block it wrote, and so must a second pass once the server
// is back with stale replicas.
func TestEBSChunkLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster and fio")
	}
	fio, err := exec.LookPath("fio")
	if err != nil {
		t.Fatalf("fio is required: apt-get install fio")
	}
	t.Run("stopped", func(t *testing.T) { chunkLoss(t, fio, false) })
	t.Run("disk-eio", func(t *testing.T) { chunkLoss(t, fio, true) })
}

func chunkLoss(t *testing.T, fio string, eio bool) {
	var mu sync.Mutex
	faulty := map[string][]*disk.Faulty{}
	// A small write cache: fio's writes go on reaching the chunk servers
	// (as write-backs) while it runs, and the loss hits them.
	opts := Options{NBDAddr: "127.0.0.1:0", ChunkServers: 6, Volume: volume.Config{WriteCache: 1 << 20}}
	if eio {
		opts.WrapDisk = func(server, _ string, d disk.Disk) disk.Disk {
			f := disk.NewFaulty(d)
			mu.Lock()
			faulty[server] = append(faulty[server], f)
			mu.Unlock()
			return f
		}
	}
	c := Start(t, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	resp, err := c.Meta().Volumes().CreateVolume(ctx, &metapb.CreateVolumeRequest{Volume: &metapb.Volume{
		Size: 128 << 20, ExtentSize: 1 << 20, Zone: "z1",
	}})
	if err != nil {
		t.Fatal(err)
	}
	vid := resp.Volume.Id
	size, io := "32m", "io=32.0MiB"
	if os.Getenv("CHAOS") == "long" {
		size, io = "120m", "io=120MiB"
	}
	job := []string{"--name=chunkloss", "--ioengine=nbd", "--uri=nbd://" + c.NBDAddr() + "/" + vid,
		"--rw=randwrite", "--bsrange=4k-64k", "--size=" + size, "--iodepth=8", "--runtime=120",
		"--verify=crc32c", "--do_verify=1", "--verify_fatal=1", "--verify_dump=0"}
	workDir := t.TempDir() // fio saves its verify state in the working directory
	cmd := exec.CommandContext(ctx, fio, job...)
	cmd.Dir = workDir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	// Midway: once a good part of the volume is written, stop the chunk
	// server holding the most replicas of it.
	victim, held := -1, 0
	for i := 0; i < 200 && victim < 0; i++ {
		select {
		case err := <-done:
			t.Fatalf("fio ended before a chunk server was lost (%v):\n%s", err, out.String())
		case <-time.After(100 * time.Millisecond):
		}
		victim, held = c.mostReplicas(ctx, t, vid, 24)
	}
	if victim < 0 {
		t.Fatalf("the volume has not 24 extents after 20s:\n%s", out.String())
	}
	t.Logf("losing chunk server c%d (replicas of %d extents, eio %v) after %v", victim, held, eio, time.Since(start).Round(time.Millisecond))
	setFaults := func(faults ...disk.Fault) {
		mu.Lock()
		defer mu.Unlock()
		for _, f := range faulty[c.chunkID(victim)] {
			f.Set(faults...)
		}
	}
	if eio {
		setFaults(disk.Fault{Ops: disk.OpAll})
	} else if err := c.StopChunk(victim); err != nil {
		t.Fatal(err)
	}
	err = <-done
	t.Logf("fio ran %v", time.Since(start).Round(time.Millisecond))
	if err != nil || !strings.Contains(out.String(), "err= 0") || strings.Contains(out.String(), "verify:") && strings.Contains(out.String(), "bad") {
		t.Fatalf("fio failed after chunk server c%d was lost (%v):\n%s", victim, err, out.String())
	}
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.Contains(l, "err=") || strings.Contains(l, "READ:") || strings.Contains(l, "WRITE:") {
			t.Log(strings.TrimSpace(l))
		}
	}
	if eio {
		var hits int64
		mu.Lock()
		for _, f := range faulty[c.chunkID(victim)] {
			hits += f.Hits()
		}
		mu.Unlock()
		if hits == 0 {
			t.Fatalf("no I/O reached the failing disk of c%d: the loss was not exercised", victim)
		}
		t.Logf("%d I/Os failed with EIO on c%d", hits, victim)
	}

	// The server comes back with stale replicas of what was written while
	// it was away: a second verify pass (same job, same seed, no writes)
	// must still read the new data.
	if eio {
		setFaults()
	} else if err := c.StartChunk(ctx, victim); err != nil {
		t.Fatal(err)
	}
	verify := exec.CommandContext(ctx, fio, append(job, "--verify_only")...)
	verify.Dir = workDir
	again, err := verify.CombinedOutput()
	if err != nil || !strings.Contains(string(again), "err= 0") {
		t.Fatalf("verify after chunk server c%d came back (%v):\n%s", victim, err, again)
	}
	if !strings.Contains(string(again), io) {
		t.Fatalf("the verify pass did not read the volume back:\n%s", again)
	}
}

// mostReplicas is the running chunk server holding replicas of the most
// extents of volume vid, once it has at least min extents; else -1.
func (c *Cluster) mostReplicas(ctx context.Context, t *testing.T, vid string, min int) (int, int) {
	t.Helper()
	owner := map[string]int{}
	for i, p := range c.chunks {
		if p == nil {
			continue
		}
		for _, d := range p.srv.Disks() {
			owner[d.ID] = i
		}
	}
	count := map[int]int{}
	extents := 0
	var next uint64
	for page := 0; page < 100; page++ {
		r, err := c.Meta().Volumes().ListExtents(ctx, &metapb.ListExtentsRequest{VolumeId: vid, StartIndex: next})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range r.Extents {
			extents++
			for _, d := range e.Disks {
				if i, ok := owner[d]; ok {
					count[i]++
				}
			}
		}
		if !r.Truncated {
			break
		}
		next = r.NextIndex
	}
	if extents < min {
		return -1, 0
	}
	best := -1
	for i, n := range count {
		if best < 0 || n > count[best] {
			best = i
		}
	}
	return best, count[best]
}
