package ec2api

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

const gib = 1 << 30

type attachmentXML struct {
	VolumeID            string `xml:"volumeId"`
	InstanceID          string `xml:"instanceId"`
	Device              string `xml:"device"`
	Status              string `xml:"status"`
	DeleteOnTermination bool   `xml:"deleteOnTermination"`
}

type volumeXML struct {
	VolumeID           string          `xml:"volumeId"`
	Size               int64           `xml:"size"`
	SnapshotID         string          `xml:"snapshotId"`
	AvailabilityZone   string          `xml:"availabilityZone"`
	Status             string          `xml:"status"`
	CreateTime         string          `xml:"createTime"`
	Attachments        []attachmentXML `xml:"attachmentSet>item"`
	VolumeType         string          `xml:"volumeType"`
	Iops               int32           `xml:"iops,omitempty"`
	Throughput         int32           `xml:"throughput,omitempty"`
	Encrypted          bool            `xml:"encrypted"`
	MultiAttachEnabled bool            `xml:"multiAttachEnabled"`
}

func isoTime(ns int64) string {
	return time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000Z")
}

func status(v *metapb.Volume) string {
	if v.AttachHolder != "" && v.AttachExpiryUnixNano > time.Now().UnixNano() {
		return "in-use"
	}
	return "available"
}

func volumeOut(v *metapb.Volume) volumeXML {
	x := volumeXML{
		VolumeID: v.Id, Size: (v.Size + gib - 1) / gib, SnapshotID: v.SnapshotId, AvailabilityZone: v.Zone,
		Status: status(v), CreateTime: isoTime(v.CreatedUnixNano), VolumeType: v.VolumeType,
		Iops: v.Iops, Throughput: v.Throughput, MultiAttachEnabled: v.MultiAttach,
	}
	if x.Status == "in-use" {
		x.Attachments = []attachmentXML{{VolumeID: v.Id, InstanceID: v.AttachHolder, Device: "nbd", Status: "attached"}}
	}
	return x
}

// createVolumeResponse carries the volume's fields at the top level.
type createVolumeResponse struct {
	volumeXML
}

func (h *Handler) createVolume(ctx context.Context, q url.Values) (any, error) {
	if err := unsupported(q, "TagSpecification.1.ResourceType", "KmsKeyId", "OutpostArn"); err != nil {
		return nil, err
	}
	if q.Get("Encrypted") == "true" {
		return nil, apiErr(http.StatusBadRequest, "UnsupportedOperation", "encrypted volumes are not supported")
	}
	v := &metapb.Volume{
		SnapshotId: q.Get("SnapshotId"), Zone: q.Get("AvailabilityZone"),
		VolumeType: q.Get("VolumeType"), ExtentSize: h.cfg.ExtentSize,
		MultiAttach: q.Get("MultiAttachEnabled") == "true",
	}
	var err error
	if v.Iops, err = int32Param(q, "Iops"); err != nil {
		return nil, err
	}
	if v.Throughput, err = int32Param(q, "Throughput"); err != nil {
		return nil, err
	}
	if v.VolumeType == "" {
		v.VolumeType = "gp2"
	}
	if err := checkVolumeType(v.VolumeType); err != nil {
		return nil, err
	}
	if s := q.Get("Size"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 || n > 16384 {
			return nil, apiErr(http.StatusBadRequest, "InvalidParameterValue", "Size must be 1 to 16384 GiB")
		}
		v.Size = n * gib
	} else if v.SnapshotId == "" {
		return nil, apiErr(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter size or snapshotId")
	}
	zones, err := h.zones(ctx)
	if err != nil {
		return nil, err
	}
	if v.Zone == "" && len(zones) > 0 {
		v.Zone = zones[0]
	}
	if !slices.Contains(zones, v.Zone) {
		return nil, apiErr(http.StatusBadRequest, "InvalidParameterValue", "Invalid availability zone: ["+v.Zone+"]")
	}
	resp, err := h.deps.Volumes.CreateVolume(ctx, &metapb.CreateVolumeRequest{Volume: v})
	if err != nil {
		return nil, withCode(err, errs.NotFound, "InvalidSnapshot.NotFound")
	}
	return createVolumeResponse{volumeOut(resp.Volume)}, nil
}

// indexed returns the values of Name.1, Name.2, ...
func indexed(q url.Values, name string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := q[name+"."+strconv.Itoa(i)]
		if !ok {
			return out
		}
		out = append(out, v...)
	}
}

// filters returns Filter.N.Name → its Filter.N.Value.M values.
func filters(q url.Values) map[string][]string {
	out := map[string][]string{}
	for i := 1; ; i++ {
		p := "Filter." + strconv.Itoa(i)
		name := q.Get(p + ".Name")
		if name == "" {
			return out
		}
		out[name] = append(out[name], indexed(q, p+".Value")...)
	}
}

// match checks a resource against the filters; fields maps the filter
// names this action knows to the resource's value.
func match(fs map[string][]string, fields map[string]string) (bool, error) {
	for name, want := range fs {
		got, ok := fields[name]
		if !ok {
			return false, apiErr(http.StatusBadRequest, "InvalidParameterValue", "The filter '"+name+"' is invalid")
		}
		if !slices.Contains(want, got) {
			return false, nil
		}
	}
	return true, nil
}

type describeVolumesResponse struct {
	Volumes []volumeXML `xml:"volumeSet>item"`
}

func (h *Handler) describeVolumes(ctx context.Context, q url.Values) (any, error) {
	ids := indexed(q, "VolumeId")
	fs := filters(q)
	var vols []*metapb.Volume
	if len(ids) > 0 {
		for _, id := range ids {
			resp, err := h.deps.Volumes.GetVolume(ctx, &metapb.GetVolumeRequest{Id: id})
			if err != nil {
				return nil, withCode(err, errs.NotFound, "InvalidVolume.NotFound")
			}
			vols = append(vols, resp.Volume)
		}
	} else {
		resp, err := h.deps.Volumes.ListVolumes(ctx, &metapb.ListVolumesRequest{})
		if err != nil {
			return nil, err
		}
		vols = resp.Volumes
	}
	out := describeVolumesResponse{Volumes: []volumeXML{}}
	for _, v := range vols {
		x := volumeOut(v)
		ok, err := match(fs, map[string]string{
			"volume-id": x.VolumeID, "status": x.Status, "availability-zone": x.AvailabilityZone,
			"size": strconv.FormatInt(x.Size, 10), "snapshot-id": x.SnapshotID, "volume-type": x.VolumeType,
			"multi-attach-enabled": strconv.FormatBool(x.MultiAttachEnabled),
		})
		if err != nil {
			return nil, err
		}
		if ok {
			out.Volumes = append(out.Volumes, x)
		}
	}
	return out, nil
}

type returnResponse struct {
	Return bool `xml:"return"`
}

func (h *Handler) deleteVolume(ctx context.Context, q url.Values) (any, error) {
	id, err := required(q, "VolumeId")
	if err != nil {
		return nil, err
	}
	_, err = h.deps.Volumes.DeleteVolume(ctx, &metapb.DeleteVolumeRequest{Id: id})
	if err = withCode(err, errs.NotFound, "InvalidVolume.NotFound"); err != nil {
		return nil, withCode(err, errs.Precondition, "VolumeInUse")
	}
	return returnResponse{Return: true}, nil
}

type modificationXML struct {
	VolumeID                 string `xml:"volumeId"`
	ModificationState        string `xml:"modificationState"`
	TargetSize               int64  `xml:"targetSize"`
	TargetIops               int32  `xml:"targetIops,omitempty"`
	TargetVolumeType         string `xml:"targetVolumeType"`
	TargetThroughput         int32  `xml:"targetThroughput,omitempty"`
	TargetMultiAttachEnabled bool   `xml:"targetMultiAttachEnabled"`
	OriginalSize             int64  `xml:"originalSize"`
	OriginalIops             int32  `xml:"originalIops,omitempty"`
	OriginalVolumeType       string `xml:"originalVolumeType"`
	OriginalThroughput       int32  `xml:"originalThroughput,omitempty"`
	Progress                 int    `xml:"progress"`
	StartTime                string `xml:"startTime"`
	EndTime                  string `xml:"endTime"`
}

type modifyVolumeResponse struct {
	Modification modificationXML `xml:"volumeModification"`
}

func (h *Handler) modifyVolume(ctx context.Context, q url.Values) (any, error) {
	id, err := required(q, "VolumeId")
	if err != nil {
		return nil, err
	}
	if q.Has("MultiAttachEnabled") {
		return nil, apiErr(http.StatusBadRequest, "UnsupportedOperation", "multi-attach cannot be changed")
	}
	old, err := h.deps.Volumes.GetVolume(ctx, &metapb.GetVolumeRequest{Id: id})
	if err != nil {
		return nil, withCode(err, errs.NotFound, "InvalidVolume.NotFound")
	}
	req := &metapb.ModifyVolumeRequest{Id: id, VolumeType: q.Get("VolumeType")}
	if req.VolumeType != "" {
		if err := checkVolumeType(req.VolumeType); err != nil {
			return nil, err
		}
	}
	if s := q.Get("Size"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 || n > 16384 {
			return nil, apiErr(http.StatusBadRequest, "InvalidParameterValue", "Size must be 1 to 16384 GiB")
		}
		if n*gib < old.Volume.Size {
			return nil, apiErr(http.StatusBadRequest, "InvalidParameterValue",
				"New size cannot be smaller than existing size of "+strconv.FormatInt((old.Volume.Size+gib-1)/gib, 10)+" GiB")
		}
		req.Size = n * gib
	}
	if req.Iops, err = int32Param(q, "Iops"); err != nil {
		return nil, err
	}
	if req.Throughput, err = int32Param(q, "Throughput"); err != nil {
		return nil, err
	}
	resp, err := h.deps.Volumes.ModifyVolume(ctx, req)
	if err != nil {
		return nil, withCode(err, errs.NotFound, "InvalidVolume.NotFound")
	}
	o, n := old.Volume, resp.Volume
	now := isoTime(time.Now().UnixNano())
	return modifyVolumeResponse{Modification: modificationXML{
		VolumeID: id, ModificationState: "completed", Progress: 100, StartTime: now, EndTime: now,
		TargetSize: (n.Size + gib - 1) / gib, TargetIops: n.Iops, TargetVolumeType: n.VolumeType,
		TargetThroughput: n.Throughput, TargetMultiAttachEnabled: n.MultiAttach,
		OriginalSize: (o.Size + gib - 1) / gib, OriginalIops: o.Iops, OriginalVolumeType: o.VolumeType,
		OriginalThroughput: o.Throughput,
	}}, nil
}

func required(q url.Values, name string) (string, error) {
	v := q.Get(name)
	if v == "" {
		return "", apiErr(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter "+name)
	}
	return v, nil
}

func int32Param(q url.Values, name string) (int32, error) {
	s := q.Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < 0 {
		return 0, apiErr(http.StatusBadRequest, "InvalidParameterValue", "Value ("+s+") for parameter "+name+" is invalid")
	}
	return int32(n), nil
}

// unsupported refuses parameters this API does not implement, rather
// than ignoring them.
func unsupported(q url.Values, names ...string) error {
	for _, n := range names {
		if q.Has(n) {
			return apiErr(http.StatusBadRequest, "UnsupportedOperation", "the parameter "+n+" is not supported")
		}
	}
	return nil
}

// volumeTypes are EC2's volume types. Every type survives the loss of two
// servers; st1 and sc1 (throughput-optimized and cold HDD on AWS) store
// extents written whole erasure coded (4+2 in wolke dev: block/volume's
// CodedType), the others as three replicas. A change of type applies from
// the volume's next attach.
var volumeTypes = []string{"standard", "io1", "io2", "gp2", "gp3", "sc1", "st1"}

func checkVolumeType(t string) error {
	if slices.Contains(volumeTypes, t) {
		return nil
	}
	return apiErr(http.StatusBadRequest, "InvalidParameterValue",
		"Value ("+t+") for parameter volumeType is invalid. Valid types: "+strings.Join(volumeTypes, ", "))
}
