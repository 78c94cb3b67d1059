package volume

import (
	"context"

	"github.com/wolke-cloud/wolke/block/nbd"
)

// BlockStatus reports allocated extents as data and the others as holes
// that read as zeroes.
func (v *Volume) BlockStatus(ctx context.Context, off, n int64) ([]nbd.Extent, error) {
	if err := v.refresh(ctx); err != nil {
		return nil, err
	}
	x := v.spec.extent
	var out []nbd.Extent
	end := min(off+n, v.spec.size)
	for pos := off; pos < end && len(out) < maxStatusExtents; {
		idx := uint64(pos / x)
		l := min(x-pos%x, end-pos)
		hole := v.extent(idx) == nil && (v.cache == nil || !v.cache.has(idx))
		if k := len(out) - 1; k >= 0 && out[k].Hole == hole {
			out[k].Length += l
		} else {
			out = append(out, nbd.Extent{Length: l, Hole: hole, Zero: hole})
		}
		pos += l
	}
	return out, nil
}
