package nbd

import "context"

// Export is one open block device served to one connection. The server
// checks every request against Size, the block size constraints and the
// read-only flag before calling it, so implementations see only aligned,
// in-range requests of at most the maximum block size. Calls may come
// concurrently from the connection's workers.
type Export interface {
	Size() int64
	// ReadAt fills all of p (holes with zeroes) from off. p comes from a
	// pool and holds stale bytes on entry; it must not be kept after
	// ReadAt returns.
	ReadAt(ctx context.Context, p []byte, off int64) error
	// WriteAt writes p at off; with fua the data is durable on return. p
	// is reused for other requests once WriteAt returns: an export that
	// keeps the data (a cache) copies it.
	WriteAt(ctx context.Context, p []byte, off int64, fua bool) error
	// Flush makes every completed write durable.
	Flush(ctx context.Context) error
	// Trim tells the export that [off, off+n) is no longer needed; the
	// contents of the range are undefined afterwards.
	Trim(ctx context.Context, off, n int64) error
	// Zero makes [off, off+n) read as zeroes; with noHole the space stays
	// allocated, otherwise it may be deallocated.
	Zero(ctx context.Context, off, n int64, noHole bool) error
	// BlockStatus describes [off, off+n) as consecutive extents starting at
	// off. It may describe only a prefix of the range but at least one
	// byte of it; extents past off+n are ignored.
	BlockStatus(ctx context.Context, off, n int64) ([]Extent, error)
	// Close releases the export (and its writer claim, if any).
	Close() error
}

// Extent is one run of a base:allocation answer.
type Extent struct {
	Length int64
	Hole   bool // not allocated; writing may need space
	Zero   bool // reads as zeroes
}

// Exports is how the server finds exports by name.
type Exports interface {
	// Open opens the named export. readOnly is true when the connection
	// will not write (NBD_OPT_INFO, meta context queries, a read-only
	// server); only a writable open claims the single-writer slot.
	// errs.NotFound → NBD_REP_ERR_UNKNOWN; errs.Precondition (a second
	// writer) or errs.Permission → NBD_REP_ERR_POLICY.
	Open(ctx context.Context, name string, readOnly bool) (Export, ExportInfo, error)
	// List describes every export for NBD_OPT_LIST.
	List(ctx context.Context) ([]ExportInfo, error)
}

// ExportInfo describes an export. Zero block sizes take the server's
// defaults: minimum 512, preferred 4096, maximum Config.MaxPayload.
type ExportInfo struct {
	Name           string
	Description    string
	Size           int64
	ReadOnly       bool // the export itself is read-only (a snapshot)
	MultiConn      bool // several connections may write; flushes are shared
	MinBlock       uint32
	PreferredBlock uint32
	MaxBlock       uint32
}

// Default block size constraints.
const (
	DefaultMinBlock       = 512
	DefaultPreferredBlock = 4096
	DefaultMaxPayload     = 32 << 20
)

// blockSizes returns the constraints advertised for info.
func (s *Server) blockSizes(info ExportInfo) (minB, prefB, maxB uint32) {
	minB, prefB, maxB = info.MinBlock, info.PreferredBlock, info.MaxBlock
	if minB == 0 {
		minB = DefaultMinBlock
	}
	if prefB == 0 {
		prefB = DefaultPreferredBlock
	}
	if prefB < minB {
		prefB = minB
	}
	if maxB == 0 || maxB > s.cfg.MaxPayload {
		maxB = s.cfg.MaxPayload
	}
	maxB -= maxB % minB
	return minB, prefB, maxB
}

// transmissionFlags returns the flags sent for info on this server.
func (s *Server) transmissionFlags(info ExportInfo) uint16 {
	f := tflagHasFlags | tflagSendFlush | tflagSendFUA | tflagSendTrim |
		tflagSendWriteZeroes | tflagSendCache
	if s.cfg.ReadOnly || info.ReadOnly {
		f |= tflagReadOnly
	}
	if info.MultiConn {
		f |= tflagCanMultiConn
	}
	return f
}
