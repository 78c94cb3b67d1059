package chunk

import (
	"fmt"
	"time"

	"github.com/wolke-cloud/wolke/chunk/disk"
	"github.com/wolke-cloud/wolke/chunk/store"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// DefaultDiskSize is the size of a disk file created when DiskConfig.Size is 0.
const DefaultDiskSize = 8 << 30

// Config configures a chunk server.
type Config struct {
	ID        string // server id
	Zone      string // availability zone of every disk of this server
	ClusterID string // disks of other clusters are refused
	Disks     []DiskConfig

	// MaxChunkSize bounds a PUT body (default and ceiling: store.MaxChunkSize).
	MaxChunkSize int64
	// ShutdownTimeout bounds how long Serve waits for requests in flight
	// when its context ends (default 10s).
	ShutdownTimeout time.Duration
	// FailAfterIOErrors marks a disk failed (DiskInfo.Failed, the
	// wolke_chunk_disk_failed gauge, an error log) after this many device
	// errors (EIO) in a row with no successful I/O between; default 16,
	// negative never.
	FailAfterIOErrors int
}

// DiskConfig names one disk.
type DiskConfig struct {
	// Path is a block device or a file standing in for one. A missing file
	// is created (sparse, Size bytes, unless Preallocate) and formatted as
	// a new disk.
	Path string
	// Preallocate writes a missing file in full as it is created
	// (disk.CreateFullFile): it holds its space, and writes to it are
	// overwrites. A file written in full keeps its freed blocks (no hole
	// punch), however it was made.
	Preallocate bool
	// Size of a file created for a missing Path (default DefaultDiskSize);
	// ignored for existing disks.
	Size int64
	// IndexDir holds the disk's index (default Path + ".index"; required for
	// block devices).
	IndexDir string
	// Format allows formatting an existing file or device that carries no
	// Wolke superblock. Without it such a disk is refused.
	Format bool
	// ReplaceDamaged moves a disk file that is damaged beyond use (both
	// superblocks unreadable, or no longer a Wolke disk at all) aside to
	// PATH.damaged and starts a fresh disk in its place, as a missing file
	// would. For development clusters on disk files; never block devices.
	ReplaceDamaged bool
}

// SetDefaults fills the zero fields.
func (c *Config) SetDefaults() {
	if c.MaxChunkSize == 0 {
		c.MaxChunkSize = store.MaxChunkSize
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 10 * time.Second
	}
	if c.FailAfterIOErrors == 0 {
		c.FailAfterIOErrors = defaultFailAfterIOErrors
	}
	for i := range c.Disks {
		d := &c.Disks[i]
		if d.Size == 0 {
			d.Size = DefaultDiskSize
		}
		if d.IndexDir == "" && d.Path != "" {
			d.IndexDir = d.Path + ".index"
		}
	}
}

// Validate reports the first problem with a defaulted config.
func (c Config) Validate() error {
	const op = "chunk.Config"
	bad := func(format string, args ...any) error {
		return errs.E(op, errs.Invalid, fmt.Sprintf(format, args...))
	}
	switch {
	case c.ID == "":
		return bad("server id is empty")
	case c.ClusterID == "":
		return bad("cluster id is empty")
	case len(c.Disks) == 0:
		return bad("no disks")
	case c.MaxChunkSize <= 0 || c.MaxChunkSize > store.MaxChunkSize:
		return bad("max chunk size %d outside (0, %d]", c.MaxChunkSize, store.MaxChunkSize)
	case c.ShutdownTimeout < 0:
		return bad("negative shutdown timeout")
	}
	seen := map[string]bool{}
	for i, d := range c.Disks {
		switch {
		case d.Path == "":
			return bad("disk %d: empty path", i)
		case seen[d.Path]:
			return bad("disk %s listed twice", d.Path)
		case d.Size < 64*disk.BlockSize || d.Size%disk.BlockSize != 0:
			return bad("disk %s: size %d is not a multiple of %d of at least %d", d.Path, d.Size, disk.BlockSize, 64*disk.BlockSize)
		case d.IndexDir == d.Path:
			return bad("disk %s: index dir is the disk itself", d.Path)
		}
		seen[d.Path] = true
	}
	return nil
}
