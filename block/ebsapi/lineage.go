package ebsapi

import (
	"context"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// maxLineage bounds the volumes a lineage walk visits (each made from a
// snapshot of the one before).
const maxLineage = 64

// lineage returns the volumes s descends from: its volume, the volume of
// the snapshot that volume was made from, and so on. known is false when
// a volume on the way no longer exists, so the walk stopped short.
func (h *Handler) lineage(ctx context.Context, s *metapb.Snapshot) (vols map[string]bool, known bool, err error) {
	vols = map[string]bool{}
	for vol := s.VolumeId; vol != "" && !vols[vol] && len(vols) < maxLineage; {
		vols[vol] = true
		v, err := h.snaps.GetVolume(ctx, &metapb.GetVolumeRequest{Id: vol})
		if errs.Is(err, errs.NotFound) {
			return vols, false, nil
		}
		if err != nil {
			return nil, false, err
		}
		if v.Volume.SnapshotId == "" {
			return vols, true, nil
		}
		from, err := h.snaps.GetSnapshot(ctx, &metapb.GetSnapshotRequest{Id: v.Volume.SnapshotId})
		if errs.Is(err, errs.NotFound) {
			return vols, false, nil
		}
		if err != nil {
			return nil, false, err
		}
		vol = from.Snapshot.VolumeId
	}
	return vols, true, nil
}

// related reports whether two snapshots share a volume lineage, as
// ListChangedBlocks wants: false only when both lineages are known in
// full and have no volume in common (a deleted volume cuts a lineage
// short, and then they are taken as related).
func (h *Handler) related(ctx context.Context, a, b *metapb.Snapshot) (bool, error) {
	if a.ExtentSize != b.ExtentSize {
		return false, nil
	}
	la, ka, err := h.lineage(ctx, a)
	if err != nil {
		return false, err
	}
	lb, kb, err := h.lineage(ctx, b)
	if err != nil {
		return false, err
	}
	for v := range la {
		if lb[v] {
			return true, nil
		}
	}
	return !ka || !kb, nil
}
