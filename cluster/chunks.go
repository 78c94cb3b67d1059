package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/wolke-cloud/wolke/chunk"
	"github.com/wolke-cloud/wolke/chunk/disk"
	"github.com/wolke-cloud/wolke/control"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// ChunkEndpoint is what a chunk server publishes in etcd.
type ChunkEndpoint struct {
	Addr  string   `json:"addr"`
	Zone  string   `json:"zone"`
	Disks []string `json:"disks"`
}

type chunkProc struct {
	id  string
	srv *chunk.Server
	reg *control.Registration
	*proc
}

func (c *Cluster) chunkID(i int) string { return fmt.Sprintf("c%d", i) }

// ChunkDir is where chunk server i keeps its disk files.
func (c *Cluster) ChunkDir(i int) string { return filepath.Join(c.dir, "chunks", c.chunkID(i)) }

// StartChunk starts chunk server i on its disk files, registers its disks
// with meta and its address in etcd. A disk file that has gone is replaced
// by a fresh disk; the disk it replaces is reported lost.
func (c *Cluster) StartChunk(ctx context.Context, i int) error {
	for len(c.chunks) <= i {
		c.chunks = append(c.chunks, nil)
	}
	if c.chunks[i] != nil {
		return errs.Errorf("cluster.StartChunk", errs.Exists, "chunk server %d runs already", i)
	}
	id := c.chunkID(i)
	zone := fmt.Sprintf("z%d", i%c.opts.Zones+1)
	cfg := chunk.Config{ID: id, Zone: zone, ClusterID: c.st.ClusterID}
	for d := 0; d < c.opts.DisksPerServer; d++ {
		cfg.Disks = append(cfg.Disks, chunk.DiskConfig{
			Path: c.diskPath(i, d),
			Size: c.opts.DiskSize,
			// A dev cluster keeps starting when a disk file is wrecked: the
			// file is moved aside and a fresh disk takes its place.
			ReplaceDamaged: true,
			Preallocate:    c.opts.PreallocateDisks,
		})
	}
	deps := chunk.Deps{Logger: c.log.With("node", id), Registry: c.nodeRegistry(id), Preallocating: c.prealloc.note}
	if wrap := c.opts.WrapDisk; wrap != nil {
		deps.WrapDisk = func(path string, d disk.Disk) disk.Disk { return wrap(id, path, d) }
	}
	srv, err := chunk.New(cfg, deps)
	if err != nil {
		return err
	}
	ln, err := c.st.listen(id, "127.0.0.1:0")
	if err != nil {
		srv.Close()
		return err
	}
	p := &chunkProc{id: id, srv: srv}
	addr := ln.Addr().String()
	c.local.set(addr, srv)
	p.proc = goServe(func(ctx context.Context) error {
		stopWatch := watchFailedDisks(ctx, srv, c.mc, c.log.With("node", id))
		err := srv.Serve(ctx, ln)
		stopWatch()
		srv.Close()
		c.local.remove(addr, srv)
		return err
	})
	c.chunks[i] = p
	if err := c.startScrub(p); err != nil {
		return err
	}
	if err := registerDisks(ctx, c.mc, c.log, id, zone, srv.Disks()); err != nil {
		return err
	}
	ep := ChunkEndpoint{Addr: ln.Addr().String(), Zone: zone}
	for _, d := range srv.Disks() {
		ep.Disks = append(ep.Disks, d.ID)
	}
	val, _ := json.Marshal(ep)
	if p.reg, err = control.Register(context.WithoutCancel(ctx), c.etcdCl, c.st.ClusterID, "chunk", id, val, 5*time.Second); err != nil {
		return err
	}
	return nil
}

// registerDisks records the server's disks in meta. Disks meta knows on
// this server that the server no longer has are declared lost, and their
// places in placement groups go to the server's fresh disks.
func registerDisks(ctx context.Context, mc metapb.MetaClient, log *slog.Logger, server, zone string, disks []chunk.DiskInfo) error {
	have := map[string]bool{}
	var fresh []string
	for _, d := range disks {
		have[d.ID] = true
		if _, err := mc.RegisterDisk(ctx, &metapb.RegisterDiskRequest{Disk: &metapb.Disk{
			Id: d.ID, Server: server, Zone: zone, Capacity: d.Capacity, State: metapb.DiskState_DISK_STATE_ACTIVE,
		}}); err != nil {
			return err
		}
		if d.Fresh {
			fresh = append(fresh, d.ID)
		}
	}
	all, err := mc.ListDisks(ctx, &metapb.ListDisksRequest{})
	if err != nil {
		return err
	}
	var lost []string
	for _, d := range all.Disks {
		if d.Server == server && !have[d.Id] && d.State == metapb.DiskState_DISK_STATE_ACTIVE {
			lost = append(lost, d.Id)
		}
	}
	if len(lost) == 0 {
		return nil
	}
	groups, err := mc.ListPlacementGroups(ctx, &metapb.ListPlacementGroupsRequest{})
	if err != nil {
		return err
	}
	for n, old := range lost {
		log.Warn("disk lost, replaced by a fresh disk", "server", server, "disk", old)
		if _, err := mc.SetDiskState(ctx, &metapb.SetDiskStateRequest{Id: old, State: metapb.DiskState_DISK_STATE_LOST}); err != nil {
			return err
		}
		if n >= len(fresh) {
			continue
		}
		for _, g := range groups.Groups {
			for _, member := range g.Disks {
				if member != old {
					continue
				}
				if _, err := mc.ReplaceDisk(ctx, &metapb.ReplaceDiskRequest{
					PlacementGroup: g.Id, OldDisk: old, NewDisk: fresh[n], Epoch: g.Epoch,
				}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// StopChunk stops chunk server i cleanly; its etcd registration goes at
// once, and StopChunk returns once the repair worker's view of the
// cluster (which follows etcd) no longer holds its disks, so that a
// repair pass run next sees the server gone.
func (c *Cluster) StopChunk(i int) error {
	if i >= len(c.chunks) || c.chunks[i] == nil {
		return nil
	}
	p := c.chunks[i]
	c.chunks[i] = nil
	disks := p.srv.Disks()
	if p.reg != nil {
		p.reg.Close()
	}
	serr := c.stopScrub(p.id)
	if err := p.stop(); err != nil {
		return err
	}
	if c.dur != nil {
		c.waitGone(c.dur.resolver, disks)
	}
	return serr
}

// waitGone waits (10 s at most) until res no longer lists any of disks.
func (c *Cluster) waitGone(res *diskResolver, disks []chunk.DiskInfo) {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		live, _ := res.liveDisks(context.Background())
		if !slices.ContainsFunc(disks, func(d chunk.DiskInfo) bool { return live[d.ID] }) {
			return
		}
	}
	c.log.Warn("stopped chunk server still listed in etcd after 10s")
}

// watchFailedDisks declares the disks the server marks failed (too many
// I/O errors in a row, chunk.DiskInfo.Failed) lost in meta, so that the
// repair worker gives their places to healthy disks and rebuilds their
// shards, without waiting for RepairAfter: that delay is for servers that
// may come back, a disk that fails every I/O does not. The returned stop
// waits for the watcher to end (call it before closing srv).
func watchFailedDisks(ctx context.Context, srv *chunk.Server, mc metapb.MetaClient, log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		declared := map[string]bool{}
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			for _, d := range srv.Disks() {
				if !d.Failed || declared[d.ID] {
					continue
				}
				sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
				err := declareFailedLost(sctx, mc, d.ID)
				scancel()
				if err != nil {
					log.Warn("failed disk not yet declared lost", "disk", d.ID, "err", err)
					continue
				}
				declared[d.ID] = true
				log.Error("failed disk declared lost: its shards are rebuilt elsewhere", "disk", d.ID, "path", d.Path)
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// declareFailedLost sets an active or draining disk lost; a disk already
// lost or removed is left as it is.
func declareFailedLost(ctx context.Context, mc metapb.MetaClient, id string) error {
	all, err := mc.ListDisks(ctx, &metapb.ListDisksRequest{})
	if err != nil {
		return err
	}
	for _, d := range all.Disks {
		if d.Id == id && (d.State == metapb.DiskState_DISK_STATE_ACTIVE || d.State == metapb.DiskState_DISK_STATE_DRAINING) {
			_, err = mc.SetDiskState(ctx, &metapb.SetDiskStateRequest{Id: id, State: metapb.DiskState_DISK_STATE_LOST})
			return err
		}
	}
	return nil
}

// preallocProgress adds up the preallocation of new disk files
// (chunk.Deps.Preallocating) for Options.Preallocating, against total,
// the bytes of the disk files missing when the cluster started.
type preallocProgress struct {
	report func(done, total int64)
	total  int64
	mu     sync.Mutex
	done   map[string]int64
}

func (p *preallocProgress) note(path string, done, size int64) {
	if p.report == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		p.done = map[string]int64{}
	}
	p.done[path] = max(p.done[path], done)
	var sum int64
	for _, d := range p.done {
		sum += d
	}
	p.report(sum, max(p.total, sum))
}

// missingDiskBytes is the size of the disk files of chunk servers 0..n-1
// that do not exist yet.
func (c *Cluster) missingDiskBytes(n int) int64 {
	var sum int64
	for i := range n {
		for d := 0; d < c.opts.DisksPerServer; d++ {
			if _, err := os.Stat(c.diskPath(i, d)); errors.Is(err, fs.ErrNotExist) {
				sum += c.opts.DiskSize
			}
		}
	}
	return sum
}

// diskPath is the file of disk d of chunk server i.
func (c *Cluster) diskPath(i, d int) string {
	return filepath.Join(c.ChunkDir(i), fmt.Sprintf("disk%d.img", d))
}
