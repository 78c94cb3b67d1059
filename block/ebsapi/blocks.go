package ebsapi

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/wolke-cloud/wolke/meta/metapb"
)

// BlockSize is the block size of the EBS direct APIs: 512 KiB, as AWS's.
const BlockSize = 512 << 10

// block is a block of a snapshot that holds data: one that overlaps at
// least one extent with a chunk (holes, trimmed and zeroed extents hold
// none).
type block struct {
	index int64
	token string
}

// blockToken names the contents of block index: the chunks of the extents
// it overlaps, by extent index. A snapshot's chunks never change (a write
// after it copies the extent to a new chunk), so two snapshots hold the
// same data in a block exactly when its token is the same in both; a
// chunk shared by two snapshots (the extent was not written between them)
// gives both the same token.
func blockToken(index int64, parts []string) string {
	sum := sha256.Sum256([]byte(strconv.FormatInt(index, 10) + "|" + strings.Join(parts, ",")))
	return base64.StdEncoding.EncodeToString(sum[:24])
}

// part is an extent's share of a block token.
func part(e *metapb.Extent) string { return strconv.FormatUint(e.Index, 10) + ":" + e.ChunkId }

// extentLister is the part of meta the block listings read.
type extentLister interface {
	listExtents(ctx context.Context, snapshot string, start uint64, limit int32) (*metapb.ListExtentsResponse, error)
}

// blockIter yields the blocks of a snapshot that hold data, in index
// order, from a first block on. It reads the extent map a page at a time.
type blockIter struct {
	meta   extentLister
	snap   string
	extent int64 // the snapshot's extent size

	page  []*metapb.Extent
	next  uint64 // extent index of the next page
	more  bool   // pages follow
	from  int64  // blocks before this one are skipped
	cur   block  // block being gathered (parts), valid when open
	parts []string
	open  bool
	ready []block // gathered blocks not yet taken
}

func newBlockIter(meta extentLister, snap string, extentSize, from int64) *blockIter {
	return &blockIter{
		meta: meta, snap: snap, extent: extentSize, from: from,
		next: uint64(from * BlockSize / extentSize), more: true,
	}
}

// peek returns the next block without taking it; ok is false at the end.
func (it *blockIter) peek(ctx context.Context) (b block, ok bool, err error) {
	for len(it.ready) == 0 {
		if len(it.page) == 0 {
			if !it.more {
				if !it.open {
					return block{}, false, nil
				}
				it.close()
				continue
			}
			resp, err := it.meta.listExtents(ctx, it.snap, it.next, 0)
			if err != nil {
				return block{}, false, err
			}
			it.page, it.more, it.next = resp.Extents, resp.Truncated, resp.NextIndex
			continue
		}
		e := it.page[0]
		it.page = it.page[1:]
		if e.ChunkId == "" {
			continue
		}
		first := int64(e.Index) * it.extent / BlockSize
		last := ((int64(e.Index)+1)*it.extent - 1) / BlockSize
		for bi := max(first, it.from); bi <= last; bi++ {
			if it.open && it.cur.index != bi {
				it.close()
			}
			if !it.open {
				it.cur, it.parts, it.open = block{index: bi}, it.parts[:0], true
			}
			it.parts = append(it.parts, part(e))
		}
	}
	return it.ready[0], true, nil
}

// close finishes the block being gathered.
func (it *blockIter) close() {
	it.cur.token = blockToken(it.cur.index, it.parts)
	it.ready = append(it.ready, it.cur)
	it.open = false
}

// pop takes the block peek returned.
func (it *blockIter) pop() { it.ready = it.ready[1:] }

// changedBlock is a block whose contents differ between two snapshots;
// a token is "" where that snapshot holds no data.
type changedBlock struct {
	index         int64
	first, second string
}

// listChanged returns up to max blocks that differ between first (nil:
// an empty snapshot) and second, from their iterators' first block on,
// and the block to go on from, -1 when there are no more.
func listChanged(ctx context.Context, first, second *blockIter, max int) ([]changedBlock, int64, error) {
	var out []changedBlock
	for {
		a, aok, err := peekOr(ctx, first)
		if err != nil {
			return nil, 0, err
		}
		b, bok, err := second.peek(ctx)
		if err != nil {
			return nil, 0, err
		}
		if !aok && !bok {
			return out, -1, nil
		}
		if len(out) == max {
			return out, min(index(a, aok), index(b, bok)), nil
		}
		switch {
		case aok && (!bok || a.index < b.index):
			out = append(out, changedBlock{index: a.index, first: a.token})
			first.pop()
		case bok && (!aok || b.index < a.index):
			out = append(out, changedBlock{index: b.index, second: b.token})
			second.pop()
		default:
			if a.token != b.token {
				out = append(out, changedBlock{index: a.index, first: a.token, second: b.token})
			}
			first.pop()
			second.pop()
		}
	}
}

func peekOr(ctx context.Context, it *blockIter) (block, bool, error) {
	if it == nil {
		return block{}, false, nil
	}
	return it.peek(ctx)
}

// index is b's index, or the largest index when there is no b.
func index(b block, ok bool) int64 {
	if !ok {
		return 1<<63 - 1
	}
	return b.index
}

// listBlocks returns up to max blocks of it, and the block to go on from,
// -1 when there are no more.
func listBlocks(ctx context.Context, it *blockIter, max int) ([]block, int64, error) {
	var out []block
	for {
		b, ok, err := it.peek(ctx)
		if err != nil || !ok {
			return out, -1, err
		}
		if len(out) == max {
			return out, b.index, nil
		}
		out = append(out, b)
		it.pop()
	}
}

// pageToken encodes the block a listing goes on from; parsePageToken
// reads it back (ok false: not one of ours).
func pageToken(next int64) string {
	return base64.StdEncoding.EncodeToString([]byte("wolke-ebs:" + strconv.FormatInt(next, 10)))
}

func parsePageToken(s string) (int64, bool) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return 0, false
	}
	rest, ok := strings.CutPrefix(string(b), "wolke-ebs:")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	return n, err == nil && n >= 0
}
