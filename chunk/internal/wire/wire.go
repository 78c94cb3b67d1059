// Package wire is what the chunk server and its client agree on: paths,
// headers and the one table that maps error kinds to HTTP statuses.
package wire

import (
	"fmt"
	"hash/crc32"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// Headers.
const (
	// HeaderCRC carries the CRC32C of a body as 8 lower-case hex digits:
	// required on PUT, always set on GET.
	HeaderCRC = "X-Wolke-Crc32c"
	// HeaderKind carries the errs.Kind number of an error response.
	HeaderKind = "X-Wolke-Error-Kind"
	// HeaderLength carries the chunk length on HEAD.
	HeaderLength = "X-Wolke-Length"
	// HeaderGen carries the chunk's generation (decimal) on GET, HEAD and
	// in the answer to PATCH; on a PUT it asks for a restore: the chunk is
	// stored at that generation, and only if it does not exist (409).
	HeaderGen = "X-Wolke-Gen"
	// HeaderBaseGen is the generation a PATCH expects the chunk at.
	HeaderBaseGen = "X-Wolke-Base-Gen"
	// HeaderNoSync on a PATCH ("1") asks for an unsynced patch: answered
	// before it is stable; POST .../sync makes it stable.
	HeaderNoSync = "X-Wolke-No-Sync"
	// HeaderEpoch carries the disk store's epoch (decimal) on PATCH and
	// sync answers: it changes when the store restarts, which may lose
	// unsynced patches.
	HeaderEpoch = "X-Wolke-Epoch"
)

// Query parameters of a ranged GET and of a listing.
const (
	QueryOffset = "offset"
	QueryLength = "length"
	QueryPrefix = "prefix"
	QueryAfter  = "after"
	QueryLimit  = "limit"
)

// ChunkPath is the path of a chunk on a disk.
func ChunkPath(diskID, chunkID string) string {
	return "/v1/disks/" + url.PathEscape(diskID) + "/chunks/" + url.PathEscape(chunkID)
}

// CRC32C is the Castagnoli CRC of b.
func CRC32C(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }

// FormatCRC renders a CRC for HeaderCRC.
func FormatCRC(c uint32) string { return fmt.Sprintf("%08x", c) }

// ParseCRC reads HeaderCRC.
func ParseCRC(s string) (uint32, error) {
	if len(s) != 8 {
		return 0, errs.Errorf("wire.ParseCRC", errs.Invalid, "bad %s %q", HeaderCRC, s)
	}
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return 0, errs.Errorf("wire.ParseCRC", errs.Invalid, "bad %s %q", HeaderCRC, s)
	}
	return uint32(v), nil
}

// statusTable is the one mapping between error kinds and HTTP statuses. The
// first row for a status is the kind a bare status maps back to.
func statusTable() [11]struct {
	kind   errs.Kind
	status int
} {
	return [...]struct {
		kind   errs.Kind
		status int
	}{
		{errs.NotFound, http.StatusNotFound},
		{errs.Exists, http.StatusConflict},
		{errs.Precondition, http.StatusPreconditionFailed},
		{errs.Invalid, http.StatusBadRequest},
		{errs.Permission, http.StatusForbidden},
		{errs.Unavailable, http.StatusServiceUnavailable},
		{errs.Internal, http.StatusInternalServerError},
		{errs.Corrupt, http.StatusInternalServerError},
		{errs.NoSpace, http.StatusInsufficientStorage},
		{errs.Canceled, http.StatusServiceUnavailable},
		{errs.Other, http.StatusInternalServerError},
	}
}

// Status is the HTTP status of an error of kind k.
func Status(k errs.Kind) int {
	for _, row := range statusTable() {
		if row.kind == k {
			return row.status
		}
	}
	return http.StatusInternalServerError
}

// Kind rebuilds the kind of an error response from HeaderKind, or from the
// status when the header is missing or unreadable.
func Kind(status int, header string) errs.Kind {
	if n, err := strconv.ParseUint(header, 10, 8); err == nil && header != "" {
		return errs.Kind(n)
	}
	for _, row := range statusTable() {
		if row.status == status {
			return row.kind
		}
	}
	if status >= 500 {
		return errs.Unavailable
	}
	return errs.Other
}

// ValidID reports whether id can name a disk or a chunk in a path: not
// empty, not "." or "..", without '/'.
func ValidID(id string) bool {
	return id != "" && id != "." && id != ".." && !strings.Contains(id, "/")
}
