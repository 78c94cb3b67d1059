package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/wolke-cloud/wolke/chunk"
	"github.com/wolke-cloud/wolke/control"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metaclient"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// Report is the state of a cluster as `wolke admin status` shows it: chunk
// servers and meta nodes from etcd, disks and placement groups from meta,
// disk fill from the chunk servers, repair and scrub progress from the
// status the repair worker publishes in etcd.
type Report struct {
	Cluster    string            `json:"cluster"`
	Taken      time.Time         `json:"taken"`
	MetaNodes  []string          `json:"meta_nodes"`
	Servers    []ServerReport    `json:"servers"`
	Disks      []DiskReport      `json:"disks"`
	Groups     []GroupReport     `json:"placement_groups"`
	Durability *DurabilityStatus `json:"durability,omitempty"`
	Healthy    bool              `json:"healthy"`
	Problems   []string          `json:"problems,omitempty"`
}

// ServerReport is one chunk server registered in etcd.
type ServerReport struct {
	ID    string   `json:"id"`
	Addr  string   `json:"addr"`
	Zone  string   `json:"zone"`
	Disks []string `json:"disks"`
}

// DiskReport is one disk known to meta.
type DiskReport struct {
	ID       string `json:"id"`
	Server   string `json:"server"`
	Zone     string `json:"zone"`
	State    string `json:"state"`
	Up       bool   `json:"up"` // its server is registered in etcd
	Capacity int64  `json:"capacity"`
	Used     int64  `json:"used"` // -1 when the server did not answer
	Groups   int    `json:"groups"`
}

// GroupReport is one placement group.
type GroupReport struct {
	ID        uint64   `json:"id"`
	Shape     string   `json:"shape"`
	Epoch     uint64   `json:"epoch"`
	Disks     []string `json:"disks"`
	Down      int      `json:"down"`      // member disks not active or not up
	Repairing bool     `json:"repairing"` // the last repair pass found stripes to rebuild in it
}

// DevTarget reads where a `wolke dev` data directory's cluster is: its
// etcd endpoint and cluster id.
func DevTarget(dir string) (etcd []string, clusterID string, err error) {
	st, err := loadState(dir)
	if err != nil {
		return nil, "", err
	}
	addr := st.Ports["etcd-client"]
	if addr == "" {
		return nil, "", errs.Errorf("cluster.DevTarget", errs.NotFound, "no wolke dev cluster in %s", dir)
	}
	return []string{"http://" + addr}, st.ClusterID, nil
}

// Admin is a connection to a cluster for administration.
type Admin struct {
	cluster string
	etcd    *clientv3.Client
	meta    *metaclient.Client
	hc      *http.Client
	// metaLeaderWait bounds how long Meta waits for a leader (0: 10s).
	metaLeaderWait time.Duration
}

// DialAdmin connects to the cluster named clusterID through etcd.
func DialAdmin(ctx context.Context, etcd []string, clusterID string) (*Admin, error) {
	cl, err := control.Dial(ctx, etcd)
	if err != nil {
		return nil, err
	}
	mc, err := dialMetaViaEtcd(ctx, cl, clusterID)
	if err != nil {
		cl.Close()
		return nil, err
	}
	return &Admin{cluster: clusterID, etcd: cl, meta: mc, hc: &http.Client{Timeout: 5 * time.Second}}, nil
}

// Close drops the connections.
func (a *Admin) Close() error {
	a.meta.Close()
	return a.etcd.Close()
}

// DrainDisk marks a disk DRAINING: the repair worker gives its places in
// placement groups to other disks and rebuilds its shards there.
func (a *Admin) DrainDisk(ctx context.Context, id string) error {
	_, err := a.meta.SetDiskState(ctx, &metapb.SetDiskStateRequest{Id: id, State: metapb.DiskState_DISK_STATE_DRAINING})
	return err
}

// DrainProgress is how far the drain of one disk has come: its state in
// meta and what the repair worker reported moving.
type DrainProgress struct {
	Disk     string `json:"disk"`
	State    string `json:"state"`     // draining until done, then removed
	InGroups int    `json:"in_groups"` // placement groups still using it
	// Reported: the repair worker has looked at this drain (the figures
	// below are from it).
	Reported    bool  `json:"reported"`
	ShardsMoved int64 `json:"shards_moved"`
	ShardsTotal int64 `json:"shards_total"`
	BytesMoved  int64 `json:"bytes_moved"`
	BytesTotal  int64 `json:"bytes_total"`
	// VolumeExtents: block volume chunks with a replica on the disk at the
	// repair worker's last clean pass; the drain waits for them.
	VolumeExtents int64 `json:"volume_extents"`
}

// DrainProgress reads the state of disk id from meta and its drain's
// progress from the repair worker's published status.
func (a *Admin) DrainProgress(ctx context.Context, id string) (*DrainProgress, error) {
	disks, err := a.meta.ListDisks(ctx, &metapb.ListDisksRequest{})
	if err != nil {
		return nil, err
	}
	p := &DrainProgress{Disk: id}
	for _, d := range disks.Disks {
		if d.Id == id {
			p.State = stateName(d.State)
		}
	}
	if p.State == "" {
		return nil, errs.Errorf("cluster.DrainProgress", errs.NotFound, "disk %q", id)
	}
	groups, err := a.meta.ListPlacementGroups(ctx, &metapb.ListPlacementGroupsRequest{})
	if err != nil {
		return nil, err
	}
	for _, g := range groups.Groups {
		if slices.Contains(g.Disks, id) {
			p.InGroups++
		}
	}
	if ds, ok := a.durabilityStatus(ctx); ok {
		for _, dr := range ds.Repair.Drains {
			if dr.Disk == id {
				p.Reported, p.VolumeExtents = true, dr.VolumeExtents
				p.ShardsMoved, p.ShardsTotal = dr.ShardsMoved, dr.ShardsMoved+dr.ShardsLeft
				p.BytesMoved, p.BytesTotal = dr.BytesMoved, dr.BytesMoved+dr.BytesLeft
			}
		}
	}
	return p, nil
}

// Status gathers a Report.
func (a *Admin) Status(ctx context.Context) (*Report, error) {
	r := &Report{Cluster: a.cluster, Taken: time.Now().UTC()}
	metas, err := control.List(ctx, a.etcd, a.cluster, "meta")
	if err != nil {
		return nil, err
	}
	r.MetaNodes = sortedKeys(metas)
	chunks, err := control.List(ctx, a.etcd, a.cluster, "chunk")
	if err != nil {
		return nil, err
	}
	up, used := map[string]bool{}, map[string]int64{}
	for _, id := range sortedKeys(chunks) {
		var ep ChunkEndpoint
		if json.Unmarshal(chunks[id], &ep) != nil {
			continue
		}
		r.Servers = append(r.Servers, ServerReport{ID: id, Addr: ep.Addr, Zone: ep.Zone, Disks: ep.Disks})
		for _, d := range ep.Disks {
			up[d] = true
		}
		for _, d := range a.serverDisks(ctx, ep.Addr) {
			used[d.ID] = d.Used
		}
	}
	disks, err := a.meta.ListDisks(ctx, &metapb.ListDisksRequest{})
	if err != nil {
		return nil, err
	}
	groups, err := a.meta.ListPlacementGroups(ctx, &metapb.ListPlacementGroupsRequest{})
	if err != nil {
		return nil, err
	}
	if v, err := a.etcd.Get(ctx, control.Key(a.cluster, statusKind, statusID)); err == nil && len(v.Kvs) == 1 {
		var ds DurabilityStatus
		if json.Unmarshal(v.Kvs[0].Value, &ds) == nil {
			r.Durability = &ds
		}
	}
	r.fill(disks.Disks, groups.Groups, up, used)
	return r, nil
}

// serverDisks asks a chunk server for its disks' fill; nil if it does not answer.
func (a *Admin) serverDisks(ctx context.Context, addr string) []chunk.DiskInfo {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v1/disks", nil)
	if err != nil {
		return nil
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var out []chunk.DiskInfo
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&out) != nil {
		return nil
	}
	return out
}

// fill builds the disk and group reports and judges health.
func (r *Report) fill(disks []*metapb.Disk, groups []*metapb.PlacementGroup, up map[string]bool, used map[string]int64) {
	inGroups := map[string]int{}
	for _, g := range groups {
		for _, d := range g.Disks {
			inGroups[d]++
		}
	}
	byID := map[string]*metapb.Disk{}
	for _, d := range disks {
		byID[d.Id] = d
		u, ok := used[d.Id]
		if !ok {
			u = -1
		}
		r.Disks = append(r.Disks, DiskReport{
			ID: d.Id, Server: d.Server, Zone: d.Zone, State: stateName(d.State), Up: up[d.Id],
			Capacity: d.Capacity, Used: u, Groups: inGroups[d.Id],
		})
	}
	var repairing []uint64
	if r.Durability != nil && (r.Durability.Repair.Running || r.Durability.Repair.Degraded > 0) {
		repairing = r.Durability.Repair.DegradedGroups
	}
	for _, g := range groups {
		gr := GroupReport{ID: g.Id, Shape: fmt.Sprintf("%d+%d", g.EcData, g.EcParity), Epoch: g.Epoch, Disks: g.Disks,
			Repairing: slices.Contains(repairing, g.Id)}
		for _, d := range g.Disks {
			if dd := byID[d]; dd == nil || dd.State != metapb.DiskState_DISK_STATE_ACTIVE || !up[d] {
				gr.Down++
			}
		}
		if gr.Down > 0 {
			r.Problems = append(r.Problems, fmt.Sprintf("placement group %d has %d member disk(s) down", g.Id, gr.Down))
		}
		r.Groups = append(r.Groups, gr)
	}
	switch ds := r.Durability; {
	case ds == nil:
		r.Problems = append(r.Problems, "no repair worker has reported yet")
	case ds.Repair.Running && ds.Repair.Queue > 0:
		r.Problems = append(r.Problems, fmt.Sprintf("repair running: %d of %d stripes left", ds.Repair.Queue, ds.Repair.Found))
	case ds.Repair.Degraded > 0:
		r.Problems = append(r.Problems, fmt.Sprintf("%d stripes degraded", ds.Repair.Degraded))
	case ds.Repair.Unavailable > 0:
		r.Problems = append(r.Problems, fmt.Sprintf("%d stripes have shards on unreachable disks", ds.Repair.Unavailable))
	case len(ds.Repair.LostDisks) > 0:
		r.Problems = append(r.Problems, fmt.Sprintf("lost disks without replacement: %v", ds.Repair.LostDisks))
	case ds.Repair.LastError != "":
		r.Problems = append(r.Problems, "last repair pass failed: "+ds.Repair.LastError)
	}
	r.Healthy = len(r.Problems) == 0
}

func stateName(s metapb.DiskState) string {
	switch s {
	case metapb.DiskState_DISK_STATE_ACTIVE:
		return "active"
	case metapb.DiskState_DISK_STATE_LOST:
		return "lost"
	case metapb.DiskState_DISK_STATE_DRAINING:
		return "draining"
	case metapb.DiskState_DISK_STATE_REMOVED:
		return "removed"
	}
	return "unknown"
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// DurabilityInputs are the figures of a running cluster that its MTTDL
// depends on: the erasure code, the disks holding data and how fast
// repair rebuilds.
type DurabilityInputs struct {
	DataShards   int   `json:"data_shards"`
	ParityShards int   `json:"parity_shards"`
	Disks        int   `json:"disks"`     // active disks known to meta
	DiskSize     int64 `json:"disk_size"` // mean capacity of those disks, bytes
	// RepairMBps is the rebuild rate seen in the repair worker's published
	// status (10^6 bytes/s); 0 when no repair ran while it was sampled.
	RepairMBps float64 `json:"repair_mbps"`
}

// DurabilityInputs reads the erasure code from the placement groups (0+0
// when there are none yet), the
// disks from meta and, when a repair pass is running, samples the bytes
// it rebuilt over the sample window to measure its rate.
func (a *Admin) DurabilityInputs(ctx context.Context, sample time.Duration) (*DurabilityInputs, error) {
	groups, err := a.meta.ListPlacementGroups(ctx, &metapb.ListPlacementGroupsRequest{})
	if err != nil {
		return nil, err
	}
	disks, err := a.meta.ListDisks(ctx, &metapb.ListDisksRequest{})
	if err != nil {
		return nil, err
	}
	in := &DurabilityInputs{}
	if len(groups.Groups) > 0 { // none before the first write: the caller picks the code
		in.DataShards, in.ParityShards = int(groups.Groups[0].EcData), int(groups.Groups[0].EcParity)
	}
	var total int64
	for _, d := range disks.Disks {
		if d.State == metapb.DiskState_DISK_STATE_ACTIVE {
			in.Disks++
			total += d.Capacity
		}
	}
	if in.Disks > 0 {
		in.DiskSize = total / int64(in.Disks)
	}
	first, ok := a.durabilityStatus(ctx)
	if !ok || !first.Repair.Running || sample <= 0 {
		return in, nil
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(sample):
	}
	second, ok := a.durabilityStatus(ctx)
	if dt := second.Updated.Sub(first.Updated).Seconds(); ok && dt > 0 && second.Repair.BytesRebuilt > first.Repair.BytesRebuilt {
		in.RepairMBps = float64(second.Repair.BytesRebuilt-first.Repair.BytesRebuilt) / dt / 1e6
	}
	return in, nil
}

func (a *Admin) durabilityStatus(ctx context.Context) (DurabilityStatus, bool) {
	var ds DurabilityStatus
	v, err := a.etcd.Get(ctx, control.Key(a.cluster, statusKind, statusID))
	if err != nil || len(v.Kvs) != 1 || json.Unmarshal(v.Kvs[0].Value, &ds) != nil {
		return ds, false
	}
	return ds, true
}
