package repair

import "time"

// Status is what the worker reports after (and during) its passes.
type Status struct {
	Worker      string    `json:"worker"`
	Passes      int64     `json:"passes"`
	Running     bool      `json:"running"` // a pass is in progress
	PassStarted time.Time `json:"pass_started"`
	PassEnded   time.Time `json:"pass_ended"` // zero until the first pass ends
	// Stripes is how many stripes the last scan saw.
	Stripes int64 `json:"stripes"`
	// Found is how many stripes missed shards when the pass looked.
	Found int `json:"found"`
	// Queue is how many of them are left to rebuild in this pass.
	Queue int `json:"queue"`
	// Degraded is how many stripes still miss shards: Queue, plus those
	// whose rebuild failed.
	Degraded int `json:"degraded"`
	// Unavailable is how many stripes have shards on disks that cannot be
	// reached now (a server down, not yet declared lost).
	Unavailable    int      `json:"unavailable"`
	DegradedGroups []uint64 `json:"degraded_groups,omitempty"`
	// LostDisks are lost disks still in a placement group: no healthy
	// disk could take their place.
	LostDisks     []string `json:"lost_disks,omitempty"`
	ShardsRebuilt int64    `json:"shards_rebuilt"`
	BytesRebuilt  int64    `json:"bytes_rebuilt"`
	Failures      int64    `json:"failures"`
	GCDeleted     int64    `json:"gc_deleted"`
	// ShardsCopied and BytesCopied are the part of ShardsRebuilt and
	// BytesRebuilt copied from an old, readable copy (a draining disk, or
	// the disk a group member moved away from) instead of reconstructed.
	ShardsCopied int64 `json:"shards_copied"`
	BytesCopied  int64 `json:"bytes_copied"`
	// Drains is the progress of every draining disk, and of the disks
	// this worker set REMOVED.
	Drains []DrainStatus `json:"drains,omitempty"`
	// VolumeExtentsAtRisk is how many block volume chunks still had a
	// replica on a disk that is not active (lost, draining, removed), or
	// missed a copy on an active disk (scrubbing deleted a damaged one),
	// at the end of the last pass: repair re-replicates or restores the
	// others.
	VolumeExtentsAtRisk int64 `json:"volume_extents_at_risk"`
	// VolumeChunksWaiting is the part of them mapped by an attached volume,
	// whose writer moves its own chunks (or whose snapshots' share waits
	// for the writer to move off it).
	VolumeChunksWaiting int64 `json:"volume_chunks_waiting"`
	// VolumeChunksRepaired and VolumeBytesRepaired count the volume chunks
	// re-replicated and the bytes written doing it since the worker started.
	VolumeChunksRepaired int64           `json:"volume_chunks_repaired"`
	VolumeBytesRepaired  int64           `json:"volume_bytes_repaired"`
	Rebalance            RebalanceStatus `json:"rebalance"`
	LastError            string          `json:"last_error,omitempty"`
}

// Healthy reports whether the last pass ended with nothing degraded,
// unavailable or lost, and no pass runs now.
func (s Status) Healthy() bool {
	return s.Passes > 0 && !s.Running && s.Degraded == 0 && s.Unavailable == 0 &&
		len(s.LostDisks) == 0 && s.LastError == ""
}

// DrainStatus is the progress of one draining disk. Moved counts what this
// worker copied or rebuilt since it started; Left is what the last scan
// found still to move (shards still needed on the disk or to be copied
// from it).
type DrainStatus struct {
	Disk        string `json:"disk"`
	Removed     bool   `json:"removed"`   // the drain is finished: the disk is REMOVED
	InGroups    int    `json:"in_groups"` // placement groups still using it
	ShardsMoved int64  `json:"shards_moved"`
	BytesMoved  int64  `json:"bytes_moved"`
	ShardsLeft  int64  `json:"shards_left"`
	BytesLeft   int64  `json:"bytes_left"`
	// VolumeExtents are block volume chunks with a replica on the disk: the
	// drain waits for repair (or the writer of an attached volume) to
	// re-replicate them.
	VolumeExtents int64 `json:"volume_extents"`
}

// RebalanceStatus is what rebalancing did: disk fill spread (percentage
// points between the fullest and emptiest active disk, counting the
// shards the manifests expect there) measured at the last clean pass,
// before its moves, and the placement group members moved.
type RebalanceStatus struct {
	SpreadPct float64 `json:"spread_pct"`
	Active    bool    `json:"active"` // moving until the spread is below half the threshold
	Moves     int64   `json:"moves"`  // members moved since the worker started
	LastMoves int     `json:"last_moves"`
}

// drain returns the entry of disk in s.Drains, adding it if needed.
func (s *Status) drain(disk string) *DrainStatus {
	for i := range s.Drains {
		if s.Drains[i].Disk == disk {
			return &s.Drains[i]
		}
	}
	s.Drains = append(s.Drains, DrainStatus{Disk: disk})
	return &s.Drains[len(s.Drains)-1]
}
