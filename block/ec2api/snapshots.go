package ec2api

import (
	"context"
	"net/url"
	"slices"
	"strconv"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// ownerID stands in for the AWS account id, which Wolke does not have.
const ownerID = "000000000000"

type snapshotXML struct {
	SnapshotID  string `xml:"snapshotId"`
	VolumeID    string `xml:"volumeId"`
	Status      string `xml:"status"`
	StartTime   string `xml:"startTime"`
	Progress    string `xml:"progress"`
	OwnerID     string `xml:"ownerId"`
	VolumeSize  int64  `xml:"volumeSize"`
	Description string `xml:"description"`
	Encrypted   bool   `xml:"encrypted"`
	StorageTier string `xml:"storageTier"`
}

func snapshotOut(s *metapb.Snapshot) snapshotXML {
	return snapshotXML{
		SnapshotID: s.Id, VolumeID: s.VolumeId, Status: s.State, StartTime: isoTime(s.CreatedUnixNano),
		Progress: "100%", OwnerID: ownerID, VolumeSize: (s.VolumeSize + gib - 1) / gib,
		Description: s.Description, StorageTier: "standard",
	}
}

type createSnapshotResponse struct {
	snapshotXML
}

func (h *Handler) createSnapshot(ctx context.Context, q url.Values) (any, error) {
	id, err := required(q, "VolumeId")
	if err != nil {
		return nil, err
	}
	if err := unsupported(q, "TagSpecification.1.ResourceType", "OutpostArn"); err != nil {
		return nil, err
	}
	if h.deps.Flusher != nil {
		if err := h.deps.Flusher.FlushVolume(ctx, id); err != nil {
			return nil, err
		}
	}
	resp, err := h.deps.Volumes.CreateSnapshot(ctx, &metapb.CreateSnapshotRequest{Snapshot: &metapb.Snapshot{
		VolumeId: id, Description: q.Get("Description"),
	}})
	if err != nil {
		return nil, withCode(err, errs.NotFound, "InvalidVolume.NotFound")
	}
	return createSnapshotResponse{snapshotOut(resp.Snapshot)}, nil
}

type describeSnapshotsResponse struct {
	Snapshots []snapshotXML `xml:"snapshotSet>item"`
}

func (h *Handler) describeSnapshots(ctx context.Context, q url.Values) (any, error) {
	ids := indexed(q, "SnapshotId")
	fs := filters(q)
	var snaps []*metapb.Snapshot
	if len(ids) > 0 {
		for _, id := range ids {
			resp, err := h.deps.Volumes.GetSnapshot(ctx, &metapb.GetSnapshotRequest{Id: id})
			if err != nil {
				return nil, withCode(err, errs.NotFound, "InvalidSnapshot.NotFound")
			}
			snaps = append(snaps, resp.Snapshot)
		}
	} else {
		resp, err := h.deps.Volumes.ListSnapshots(ctx, &metapb.ListSnapshotsRequest{})
		if err != nil {
			return nil, err
		}
		snaps = resp.Snapshots
	}
	// Every snapshot belongs to the one owner; "self" and that id match.
	owners := indexed(q, "Owner")
	out := describeSnapshotsResponse{Snapshots: []snapshotXML{}}
	for _, s := range snaps {
		x := snapshotOut(s)
		if len(owners) > 0 && !slices.Contains(owners, "self") && !slices.Contains(owners, ownerID) {
			continue
		}
		ok, err := match(fs, map[string]string{
			"snapshot-id": x.SnapshotID, "volume-id": x.VolumeID, "status": x.Status,
			"owner-id": x.OwnerID, "volume-size": strconv.FormatInt(x.VolumeSize, 10), "description": x.Description,
		})
		if err != nil {
			return nil, err
		}
		if ok {
			out.Snapshots = append(out.Snapshots, x)
		}
	}
	return out, nil
}

func (h *Handler) deleteSnapshot(ctx context.Context, q url.Values) (any, error) {
	id, err := required(q, "SnapshotId")
	if err != nil {
		return nil, err
	}
	if _, err := h.deps.Volumes.DeleteSnapshot(ctx, &metapb.DeleteSnapshotRequest{Id: id}); err != nil {
		return nil, withCode(err, errs.NotFound, "InvalidSnapshot.NotFound")
	}
	return returnResponse{Return: true}, nil
}

type zoneXML struct {
	ZoneName   string `xml:"zoneName"`
	ZoneState  string `xml:"zoneState"`
	RegionName string `xml:"regionName"`
	ZoneID     string `xml:"zoneId"`
	ZoneType   string `xml:"zoneType"`
	OptIn      string `xml:"optInStatus"`
}

type describeZonesResponse struct {
	Zones []zoneXML `xml:"availabilityZoneInfo>item"`
}

// zones are the zone labels of the chunk disks, sorted.
func (h *Handler) zones(ctx context.Context) ([]string, error) {
	resp, err := h.deps.Disks.ListDisks(ctx, &metapb.ListDisksRequest{})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range resp.Disks {
		if d.State == metapb.DiskState_DISK_STATE_ACTIVE && d.Zone != "" && !slices.Contains(out, d.Zone) {
			out = append(out, d.Zone)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (h *Handler) describeZones(ctx context.Context, q url.Values) (any, error) {
	zones, err := h.zones(ctx)
	if err != nil {
		return nil, err
	}
	names := indexed(q, "ZoneName")
	fs := filters(q)
	out := describeZonesResponse{Zones: []zoneXML{}}
	for _, z := range zones {
		if len(names) > 0 && !slices.Contains(names, z) {
			continue
		}
		x := zoneXML{ZoneName: z, ZoneState: "available", RegionName: h.cfg.Region, ZoneID: z,
			ZoneType: "availability-zone", OptIn: "opt-in-not-required"}
		ok, err := match(fs, map[string]string{"zone-name": z, "region-name": x.RegionName, "state": x.ZoneState, "zone-id": z})
		if err != nil {
			return nil, err
		}
		if ok {
			out.Zones = append(out.Zones, x)
		}
	}
	return out, nil
}
