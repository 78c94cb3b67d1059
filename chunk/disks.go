package chunk

import (
	"context"
	"os"
	"path/filepath"

	"github.com/wolke-cloud/wolke/chunk/disk"
	"github.com/wolke-cloud/wolke/chunk/store"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// openDisk brings one configured disk up: a missing file becomes a fresh
// disk; an existing Wolke disk of this cluster is opened; anything else is
// refused (or formatted, if the config allows it and it has no superblock).
func (s *Server) openDisk(ctx context.Context, dc DiskConfig) (*diskState, error) {
	const op = "chunk.openDisk"
	opts := store.Options{Logger: s.log.With("path", dc.Path), Registry: s.reg}
	dev, err := disk.Open(dc.Path)
	opts.KeepFreed = disk.FullyAllocated(dc.Path) || errs.Is(err, errs.NotFound) && dc.Preallocate
	var wd *watchedDisk
	fresh := false
	var st *store.Store
	switch {
	case errs.Is(err, errs.NotFound):
		if err := os.MkdirAll(filepath.Dir(dc.Path), 0o755); err != nil {
			return nil, errs.E(op, errs.Internal, err)
		}
		if dev, err = s.createFile(ctx, dc); err != nil {
			return nil, err
		}
		fresh = true
		wd = s.watch(dc.Path, s.wrapped(dc.Path, dev))
		st, err = s.format(ctx, wd, dc, opts)
		if err != nil {
			_ = os.Remove(dc.Path)
			return nil, err
		}
	case err != nil:
		return nil, err
	default:
		if fi, serr := os.Stat(dc.Path); serr == nil && fi.Mode()&os.ModeDevice != 0 && dc.IndexDir == dc.Path+".index" {
			_ = dev.Close()
			return nil, errs.Errorf(op, errs.Invalid, "block device %s needs an explicit index dir", dc.Path)
		}
		wd = s.watch(dc.Path, s.wrapped(dc.Path, dev))
		st, err = store.Open(ctx, wd, dc.IndexDir, s.cfg.ClusterID, opts)
		if errs.Is(err, errs.Invalid) && dc.Format {
			fresh = true
			st, err = s.format(ctx, wd, dc, opts)
		}
		if err != nil {
			_ = dev.Close()
			if dc.ReplaceDamaged && (errs.Is(err, errs.Corrupt) || errs.Is(err, errs.Invalid)) && isRegularFile(dc.Path) {
				return s.replaceDamaged(ctx, dc, err)
			}
			return nil, errs.E(op, errs.KindOf(err), dc.Path, err)
		}
	}
	status := st.Status()
	return &diskState{st: st, health: wd, info: DiskInfo{
		ID:       status.DiskID,
		Path:     dc.Path,
		Zone:     s.cfg.Zone,
		Fresh:    fresh,
		Replaced: status.Replaced,
		Lost:     status.Replaced,
	}}, nil
}

// createFile creates the disk file of dc: sparse, or written in full if
// dc.Preallocate, telling Deps.Preallocating how far it got.
func (s *Server) createFile(ctx context.Context, dc DiskConfig) (*disk.Device, error) {
	if !dc.Preallocate {
		return disk.CreateFile(dc.Path, dc.Size)
	}
	var progress func(int64)
	if s.prealloc != nil {
		progress = func(done int64) { s.prealloc(dc.Path, done, dc.Size) }
	}
	s.log.Info("preallocating disk file", "path", dc.Path, "size", dc.Size)
	return disk.CreateFullFile(ctx, dc.Path, dc.Size, progress)
}

// wrapped is dev as Deps.WrapDisk wraps it.
func (s *Server) wrapped(path string, dev disk.Disk) disk.Disk {
	if s.wrap == nil {
		return dev
	}
	return s.wrap(path, dev)
}

func (s *Server) format(ctx context.Context, dev disk.Disk, dc DiskConfig, opts store.Options) (*store.Store, error) {
	id, err := newDiskID()
	if err != nil {
		_ = dev.Close()
		return nil, err
	}
	st, err := store.Format(ctx, dev, dc.IndexDir, s.cfg.ClusterID, id, opts)
	if err != nil {
		_ = dev.Close()
		return nil, err
	}
	return st, nil
}

// replaceDamaged moves a damaged disk file aside and brings up a fresh disk
// in its place.
func (s *Server) replaceDamaged(ctx context.Context, dc DiskConfig, cause error) (*diskState, error) {
	const op = "chunk.replaceDamaged"
	aside := dc.Path + ".damaged"
	if err := os.Rename(dc.Path, aside); err != nil {
		return nil, errs.E(op, errs.Internal, dc.Path, err)
	}
	s.log.Error("disk file damaged beyond use, moved aside and replaced by a fresh disk",
		"path", dc.Path, "moved_to", aside, "err", cause)
	return s.openDisk(ctx, dc)
}

func isRegularFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}
