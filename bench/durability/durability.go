// Package durability estimates how likely an erasure-coded cluster is to
// lose data: a closed-form mean time to data loss (MTTDL) from the Markov
// model of disk failures and repairs, and a Monte Carlo simulation of the
// same cluster over years to check it against.
//
// The model. N disks are split into G = ⌊N/n⌋ disjoint placement groups of
// n = k+m disks; every stripe of a group has one shard on each of its disks,
// so a group loses data when m+1 of its disks are down at once (the disks
// left over when n does not divide N hold no data). Disks fail independently
// at a constant rate λ = −ln(1−AFR) per year, so that a disk fails within a
// year with probability AFR. A failed disk is rebuilt in the repair window
// T = DiskSize / RepairRate (the whole disk is re-created at the repair
// rate; failures are repaired independently and concurrently). Repair
// itself never fails and rebuilt disks are as good as new.
//
// Callers use MTTDL for the formula and Simulate for the simulation; both
// take the same Params and report the same measures, so the two can be
// printed side by side (as `wolke bench durability` does).
package durability

import (
	"encoding/json"
	"math"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// Year is the length of a year the rates are per: 365.25 days.
const Year = time.Duration(365.25 * 24 * float64(time.Hour))

// Params describe a cluster and the span to estimate it over.
type Params struct {
	Disks        int     `json:"disks"`         // disks in the cluster, at least DataShards+ParityShards
	AFR          float64 `json:"afr"`           // annual failure rate of one disk: P(fails within a year), in (0, 1)
	DiskSize     int64   `json:"disk_size"`     // bytes of one disk, all of it holding shards
	RepairMBps   float64 `json:"repair_mbps"`   // rebuild rate of one failed disk, in MB/s (10^6 bytes)
	DataShards   int     `json:"data_shards"`   // k
	ParityShards int     `json:"parity_shards"` // m: the failures a group survives
	Years        float64 `json:"years"`         // the span the loss probability is over
}

// Validate reports what is wrong with p, with errs.Invalid.
func (p Params) Validate() error {
	const op = "durability.Params"
	n := p.DataShards + p.ParityShards
	switch {
	case p.DataShards < 1 || p.ParityShards < 0 || n > 256:
		return errs.Errorf(op, errs.Invalid, "erasure code %d+%d: want k ≥ 1, m ≥ 0, k+m ≤ 256", p.DataShards, p.ParityShards)
	case p.Disks < n:
		return errs.Errorf(op, errs.Invalid, "%d disks cannot hold a %d+%d group", p.Disks, p.DataShards, p.ParityShards)
	case !(p.AFR > 0 && p.AFR < 1):
		return errs.Errorf(op, errs.Invalid, "annual failure rate %g: want a probability in (0, 1)", p.AFR)
	case p.DiskSize <= 0:
		return errs.Errorf(op, errs.Invalid, "disk size %d: want a positive byte count", p.DiskSize)
	case !(p.RepairMBps > 0) || math.IsInf(p.RepairMBps, 0):
		return errs.Errorf(op, errs.Invalid, "repair rate %g MB/s: want a positive rate", p.RepairMBps)
	case !(p.Years > 0) || math.IsInf(p.Years, 0):
		return errs.Errorf(op, errs.Invalid, "years %g: want a positive span", p.Years)
	}
	return nil
}

// Groups is G, the number of placement groups of k+m disks.
func (p Params) Groups() int { return p.Disks / (p.DataShards + p.ParityShards) }

// FailureRate is λ, the failures of one disk per year: −ln(1−AFR).
func (p Params) FailureRate() float64 { return -math.Log1p(-p.AFR) }

// RepairYears is the repair window T in years: DiskSize / RepairMBps.
func (p Params) RepairYears() float64 {
	return float64(p.DiskSize) / (p.RepairMBps * 1e6) / Year.Seconds()
}

// RepairTime is the repair window T.
func (p Params) RepairTime() time.Duration {
	return time.Duration(float64(p.DiskSize) / (p.RepairMBps * 1e6) * float64(time.Second))
}

// groupBytes is the user data a group holds: k disks' worth.
func (p Params) groupBytes() float64 { return float64(p.DataShards) * float64(p.DiskSize) }

// Estimate is what MTTDL computes.
type Estimate struct {
	// GroupMTTDLYears is the mean time until one placement group loses data.
	GroupMTTDLYears float64 `json:"group_mttdl_years"`
	// MTTDLYears is the mean time until any group loses data: group / G.
	MTTDLYears float64 `json:"mttdl_years"`
	Measures
}

// Measures are the figures MTTDL and Simulate both report.
type Measures struct {
	// LossEventsPerYear is how often some group loses data.
	LossEventsPerYear float64 `json:"loss_events_per_year"`
	// PLoss is the probability that any data is lost within Params.Years.
	PLoss float64 `json:"p_loss"`
	// AnnualLossBytes is the expected user bytes lost per year: a loss
	// event loses the whole group, k disks of data.
	AnnualLossBytes float64 `json:"annual_loss_bytes"`
	// AnnualLossFraction is the expected share of the stored data lost per
	// year, which is also the chance that a given object is lost in a year.
	AnnualLossFraction float64 `json:"annual_loss_fraction"`
	// Nines is −log10(AnnualLossFraction): 11 means 99.999999999 % of
	// objects survive a year, as S3 states its durability. +Inf when no
	// loss is expected (or, simulated, was seen).
	Nines Nines `json:"nines"`
}

// Nines is a durability in nines. JSON has no infinity: +Inf (no loss)
// is written as null.
type Nines float64

// MarshalJSON writes the number, or null when it is not finite.
func (n Nines) MarshalJSON() ([]byte, error) {
	if math.IsInf(float64(n), 0) || math.IsNaN(float64(n)) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(n))
}

// measures derives the common figures from the rate of loss events.
func (p Params) measures(eventsPerYear float64) Measures {
	frac := eventsPerYear / float64(p.Groups())
	return Measures{
		LossEventsPerYear:  eventsPerYear,
		PLoss:              -math.Expm1(-eventsPerYear * p.Years),
		AnnualLossBytes:    eventsPerYear * p.groupBytes(),
		AnnualLossFraction: frac,
		Nines:              nines(frac),
	}
}

func nines(frac float64) Nines {
	if frac <= 0 {
		return Nines(math.Inf(1))
	}
	return Nines(-math.Log10(frac))
}

// MTTDL is the closed-form estimate. A group is a Markov chain over the
// number of its failed disks, i = 0 … m+1: from state i a disk fails at rate
// (n−i)λ, and one of the i failed disks finishes its repair at rate iμ,
// μ = 1/T; state m+1 is data loss. When repairs are much faster than
// failures (nλT ≪ 1) the chain's mean time to absorption is, to first
// order,
//
//	               ∏_{i=1..m} iμ           m! · μ^m                m! · MTTF^(m+1)
//	MTTDL_group = ───────────────── = ─────────────────────── = ──────────────────────
//	              ∏_{i=0..m} (n−i)λ   λ^(m+1) · n!/(n−m−1)!    n!/(n−m−1)! · T^m
//
// with MTTF = 1/λ: one over the rate of losses, which is the rate of first
// failures in the group, nλ, times the chance that m more of its disks fail
// before the earlier failures are repaired, ∏_{i=1..m} (n−i)λ/(iμ). For m = 1 it is RAID 5's
// MTTF²/(n(n−1)T). A fixed (rather than exponential) repair time gives the
// same first-order result. The cluster's G groups fail independently, so
//
//	MTTDL = MTTDL_group / G,  P(loss within Y years) = 1 − exp(−Y/MTTDL).
//
// Example, hand-computed: 4+2, λ = 0.1/yr, T = 0.01 yr: MTTDL_group =
// 2·100²/(6·5·4·0.1³) = 20000/0.12 ≈ 166,667 years.
func MTTDL(p Params) (Estimate, error) {
	if err := p.Validate(); err != nil {
		return Estimate{}, err
	}
	n, m := p.DataShards+p.ParityShards, p.ParityShards
	lambda, mu := p.FailureRate(), 1/p.RepairYears()
	// Multiply the factors in turn rather than form μ^m and λ^(m+1): wide
	// codes would overflow or underflow.
	g := 1 / (float64(n) * lambda)
	for i := 1; i <= m; i++ {
		g *= float64(i) * mu / (float64(n-i) * lambda)
	}
	groups := float64(p.Groups())
	return Estimate{
		GroupMTTDLYears: g,
		MTTDLYears:      g / groups,
		Measures:        p.measures(groups / g),
	}, nil
}
