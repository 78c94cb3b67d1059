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
	LastError     string   `json:"last_error,omitempty"`
}

// Healthy reports whether the last pass ended with nothing degraded,
// unavailable or lost, and no pass runs now.
func (s Status) Healthy() bool {
	return s.Passes > 0 && !s.Running && s.Degraded == 0 && s.Unavailable == 0 &&
		len(s.LostDisks) == 0 && s.LastError == ""
}
