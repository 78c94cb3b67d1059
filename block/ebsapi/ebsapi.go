// Package ebsapi serves the read side of the EBS direct APIs (REST-JSON,
// SigV4 service "ebs"): ListSnapshotBlocks, ListChangedBlocks (the blocks
// that differ between two snapshots, as incremental backups use them) and
// GetSnapshotBlock. Blocks are 512 KiB, as on AWS; a block holds data when
// it overlaps an extent with a chunk, and two snapshots differ in a block
// when their chunks there differ, so a change is reported for the whole of
// the extents it touched (1 MiB: two blocks). The write side (StartSnapshot,
// PutSnapshotBlock, CompleteSnapshot) is refused with UnsupportedOperation:
// snapshots are taken with the EC2 API. The gateway authenticates and hands
// requests signed for service "ebs" to Handler.ServeAWS.
package ebsapi

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"

	"github.com/wolke-cloud/wolke/iam/sigv4"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// Snapshots is the part of meta's Volumes API the handler reads (volumes
// for the lineage of snapshots);
// metapb.VolumesClient implements it.
type Snapshots interface {
	GetVolume(ctx context.Context, in *metapb.GetVolumeRequest, opts ...grpc.CallOption) (*metapb.GetVolumeResponse, error)
	GetSnapshot(ctx context.Context, in *metapb.GetSnapshotRequest, opts ...grpc.CallOption) (*metapb.GetSnapshotResponse, error)
	ListExtents(ctx context.Context, in *metapb.ListExtentsRequest, opts ...grpc.CallOption) (*metapb.ListExtentsResponse, error)
}

// Reader reads from the replicas of a snapshot's extent;
// volume.Service implements it.
type Reader interface {
	ReadExtent(ctx context.Context, snapshot string, extentSize int64, e *metapb.Extent, in int64, p []byte) error
}

// Deps are the handler's collaborators.
type Deps struct {
	Snapshots Snapshots
	Reader    Reader
	Logger    *slog.Logger // nil: discard
}

// Handler serves the EBS direct APIs.
type Handler struct {
	snaps  Snapshots
	reader Reader
	log    *slog.Logger
}

// New makes a Handler.
func New(deps Deps) (*Handler, error) {
	if deps.Snapshots == nil || deps.Reader == nil {
		return nil, errs.E("ebsapi.New", errs.Invalid, "Snapshots and Reader are required")
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{snaps: deps.Snapshots, reader: deps.Reader, log: log}, nil
}

// tokenLife is the ExpiryTime the listings give their block tokens. The
// tokens name chunks, which do not change, so they are not checked for
// age; the time is there for clients that read it.
const tokenLife = 7 * 24 * time.Hour

// ServeAWS answers one EBS direct API request.
func (h *Handler) ServeAWS(w http.ResponseWriter, r *http.Request, auth *sigv4.Result, authErr error) {
	if authErr != nil {
		h.fail(w, authError(authErr))
		return
	}
	if auth == nil || auth.Anonymous {
		h.fail(w, apiErr(http.StatusForbidden, "AccessDeniedException", "UNAUTHORIZED_ACCOUNT", "requests must be signed"))
		return
	}
	// /snapshots/{id}/blocks, /snapshots/{id}/changedblocks,
	// /snapshots/{id}/blocks/{index}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	var err error
	switch {
	case r.Method == http.MethodGet && len(parts) == 3 && parts[0] == "snapshots" && parts[2] == "blocks":
		err = h.listSnapshotBlocks(w, r, parts[1])
	case r.Method == http.MethodGet && len(parts) == 3 && parts[0] == "snapshots" && parts[2] == "changedblocks":
		err = h.listChangedBlocks(w, r, parts[1])
	case r.Method == http.MethodGet && len(parts) == 4 && parts[0] == "snapshots" && parts[2] == "blocks":
		err = h.getSnapshotBlock(w, r, parts[1], parts[3])
	case len(parts) >= 1 && parts[0] == "snapshots" && r.Method != http.MethodGet:
		err = apiErr(http.StatusBadRequest, "UnsupportedOperation", "",
			"Wolke serves the read side of the EBS direct APIs; take snapshots with ec2 create-snapshot")
	default:
		err = apiErr(http.StatusNotFound, "UnknownOperationException", "", r.Method+" "+r.URL.Path+" is not an EBS direct API")
	}
	if err != nil {
		h.log.Debug("ebs request failed", "path", r.URL.Path, "err", err)
		h.fail(w, toAPI(err))
	}
}

type blockJSON struct {
	BlockIndex int64
	BlockToken string
}

type listBlocksResponse struct {
	Blocks     []blockJSON
	ExpiryTime int64
	VolumeSize int64
	BlockSize  int64
	NextToken  string `json:",omitempty"`
}

func (h *Handler) listSnapshotBlocks(w http.ResponseWriter, r *http.Request, id string) error {
	snap, err := h.snapshot(r.Context(), id)
	if err != nil {
		return err
	}
	from, max, err := paging(r, snap)
	if err != nil {
		return err
	}
	blocks, next, err := listBlocks(r.Context(), newBlockIter(h, id, snap.ExtentSize, from), max)
	if err != nil {
		return err
	}
	out := listBlocksResponse{Blocks: []blockJSON{}, ExpiryTime: time.Now().Add(tokenLife).Unix(),
		VolumeSize: gib(snap.VolumeSize), BlockSize: BlockSize}
	for _, b := range blocks {
		out.Blocks = append(out.Blocks, blockJSON{BlockIndex: b.index, BlockToken: b.token})
	}
	if next >= 0 {
		out.NextToken = pageToken(next)
	}
	return reply(w, out)
}

type changedBlockJSON struct {
	BlockIndex       int64
	FirstBlockToken  string `json:",omitempty"`
	SecondBlockToken string `json:",omitempty"`
}

type listChangedResponse struct {
	ChangedBlocks []changedBlockJSON
	ExpiryTime    int64
	VolumeSize    int64
	BlockSize     int64
	NextToken     string `json:",omitempty"`
}

func (h *Handler) listChangedBlocks(w http.ResponseWriter, r *http.Request, secondID string) error {
	ctx := r.Context()
	second, err := h.snapshot(ctx, secondID)
	if err != nil {
		return err
	}
	from, max, err := paging(r, second)
	if err != nil {
		return err
	}
	var first *blockIter
	if id := r.URL.Query().Get("firstSnapshotId"); id != "" {
		s, err := h.snapshot(ctx, id)
		if err != nil {
			return err
		}
		ok, err := h.related(ctx, s, second)
		if err != nil {
			return err
		}
		if !ok {
			return apiErr(http.StatusBadRequest, "ValidationException", "UNRELATED_SNAPSHOTS",
				"the snapshots "+id+" and "+secondID+" are not of one volume lineage")
		}
		first = newBlockIter(h, id, s.ExtentSize, from)
	}
	changed, next, err := listChanged(ctx, first, newBlockIter(h, secondID, second.ExtentSize, from), max)
	if err != nil {
		return err
	}
	out := listChangedResponse{ChangedBlocks: []changedBlockJSON{}, ExpiryTime: time.Now().Add(tokenLife).Unix(),
		VolumeSize: gib(second.VolumeSize), BlockSize: BlockSize}
	for _, c := range changed {
		out.ChangedBlocks = append(out.ChangedBlocks, changedBlockJSON{BlockIndex: c.index, FirstBlockToken: c.first, SecondBlockToken: c.second})
	}
	if next >= 0 {
		out.NextToken = pageToken(next)
	}
	return reply(w, out)
}

// getSnapshotBlock answers the 512 KiB of block index of the snapshot,
// with their SHA-256; the token must be the one the listings give.
func (h *Handler) getSnapshotBlock(w http.ResponseWriter, r *http.Request, id, indexText string) error {
	ctx := r.Context()
	snap, err := h.snapshot(ctx, id)
	if err != nil {
		return err
	}
	index, err := strconv.ParseInt(indexText, 10, 64)
	if err != nil || index < 0 || index >= (snap.VolumeSize+BlockSize-1)/BlockSize {
		return apiErr(http.StatusBadRequest, "ValidationException", "INVALID_BLOCK",
			"block index "+indexText+" is not a block of "+id)
	}
	token := r.URL.Query().Get("blockToken")
	if token == "" {
		return apiErr(http.StatusBadRequest, "ValidationException", "INVALID_BLOCK_TOKEN", "blockToken is required")
	}
	exts, err := h.blockExtents(ctx, id, snap.ExtentSize, index)
	if err != nil {
		return err
	}
	var parts []string
	for _, e := range exts {
		parts = append(parts, part(e))
	}
	if len(exts) == 0 || blockToken(index, parts) != token {
		return apiErr(http.StatusBadRequest, "ValidationException", "INVALID_BLOCK_TOKEN",
			"the block token is not the one of block "+indexText+" of "+id)
	}
	data := make([]byte, BlockSize)
	start := index * BlockSize
	for _, e := range exts {
		lo := max(int64(e.Index)*snap.ExtentSize, start)
		hi := min(int64(e.Index+1)*snap.ExtentSize, start+BlockSize)
		if err := h.reader.ReadExtent(ctx, id, snap.ExtentSize, e, lo-int64(e.Index)*snap.ExtentSize, data[lo-start:hi-start]); err != nil {
			return err
		}
	}
	sum := sha256.Sum256(data)
	hd := w.Header()
	hd.Set("Content-Type", "application/octet-stream")
	hd.Set("Content-Length", strconv.Itoa(len(data)))
	hd.Set("x-amz-Data-Length", strconv.Itoa(len(data)))
	hd.Set("x-amz-Checksum", base64.StdEncoding.EncodeToString(sum[:]))
	hd.Set("x-amz-Checksum-Algorithm", "SHA256")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
	return nil
}

// blockExtents returns the extents with a chunk that block index of the
// snapshot overlaps, in order.
func (h *Handler) blockExtents(ctx context.Context, id string, extent, index int64) ([]*metapb.Extent, error) {
	start := index * BlockSize
	first := uint64(start / extent)
	last := uint64((start + BlockSize - 1) / extent)
	resp, err := h.listExtents(ctx, id, first, int32(last-first+1))
	if err != nil {
		return nil, err
	}
	var out []*metapb.Extent
	for _, e := range resp.Extents {
		if e.Index <= last && e.ChunkId != "" {
			out = append(out, e)
		}
	}
	return out, nil
}

// snapshot reads a snapshot's record.
func (h *Handler) snapshot(ctx context.Context, id string) (*metapb.Snapshot, error) {
	if !strings.HasPrefix(id, "snap-") || len(id) > 64 {
		return nil, apiErr(http.StatusBadRequest, "ValidationException", "INVALID_SNAPSHOT_ID", id+" is not a snapshot id")
	}
	resp, err := h.snaps.GetSnapshot(ctx, &metapb.GetSnapshotRequest{Id: id})
	if errs.Is(err, errs.NotFound) {
		return nil, apiErr(http.StatusNotFound, "ResourceNotFoundException", "SNAPSHOT_NOT_FOUND", "the snapshot "+id+" does not exist")
	}
	if err != nil {
		return nil, err
	}
	if e := resp.Snapshot.ExtentSize; e <= 0 || e%4096 != 0 {
		return nil, errs.Errorf("ebsapi.snapshot", errs.Internal, "snapshot %s has extent size %d", id, e)
	}
	return resp.Snapshot, nil
}

// listExtents reads a page of the snapshot's extent map (limit 0: meta's
// page size); it implements extentLister.
func (h *Handler) listExtents(ctx context.Context, snapshot string, start uint64, limit int32) (*metapb.ListExtentsResponse, error) {
	resp, err := h.snaps.ListExtents(ctx, &metapb.ListExtentsRequest{SnapshotId: snapshot, StartIndex: start, Limit: limit})
	if errs.Is(err, errs.NotFound) {
		// Deleted while we read it.
		return nil, apiErr(http.StatusNotFound, "ResourceNotFoundException", "SNAPSHOT_NOT_FOUND", "the snapshot "+snapshot+" does not exist")
	}
	return resp, err
}

// paging reads the first block (startingBlockIndex, or the pageToken of
// an earlier answer; at most the end of snap) and the page size
// (maxResults: 100 to 10000, as on AWS; default 10000) of a listing.
func paging(r *http.Request, snap *metapb.Snapshot) (from int64, max int, err error) {
	defer func() { from = min(from, (snap.VolumeSize+BlockSize-1)/BlockSize) }()
	q := r.URL.Query()
	max = 10000
	if s := q.Get("maxResults"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 100 || n > 10000 {
			return 0, 0, apiErr(http.StatusBadRequest, "ValidationException", "INVALID_PARAMETER_VALUE", "maxResults must be 100 to 10000")
		}
		max = n
	}
	if s := q.Get("startingBlockIndex"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, apiErr(http.StatusBadRequest, "ValidationException", "INVALID_PARAMETER_VALUE", "startingBlockIndex must be a block index")
		}
		from = n
	}
	if s := q.Get("pageToken"); s != "" {
		n, ok := parsePageToken(s)
		if !ok {
			return 0, 0, apiErr(http.StatusBadRequest, "ValidationException", "INVALID_PAGE_TOKEN", "the page token is not one this API gave")
		}
		from = n
	}
	return from, max, nil
}

// gib is a size in GiB, rounded up.
func gib(n int64) int64 { return (n + 1<<30 - 1) >> 30 }

func reply(w http.ResponseWriter, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return errs.E("ebsapi.reply", errs.Internal, err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return nil
}
