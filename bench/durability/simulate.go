package durability

import (
	"context"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// Simulation is what Simulate measured.
type Simulation struct {
	Trials         int `json:"trials"`
	TrialsWithLoss int `json:"trials_with_loss"`
	// LossEvents counts the times some group went from m to m+1 failed disks.
	LossEvents   int `json:"loss_events"`
	DiskFailures int `json:"disk_failures"`
	// PLossLow and PLossHigh bound PLoss: the 95 % Wilson score interval. With
	// no loss seen, PLossHigh is still positive: the trials only show the
	// probability is below it.
	PLossLow  float64 `json:"p_loss_low"`
	PLossHigh float64 `json:"p_loss_high"`
	Measures
}

// Simulate runs trials independent histories of the cluster over p.Years:
// each disk fails after an exponential time of rate λ and is rebuilt a fixed
// repair window T later, then fails afresh; a group loses data each time a
// failure leaves m+1 of its disks down at once. PLoss is the share of
// trials that lost any data; the other measures come from the loss events
// counted over all trials. The same seed gives the same result, whatever
// the number of CPUs. Work grows as trials × Disks × λ × Years; ctx ends it
// early with errs.Canceled.
func Simulate(ctx context.Context, p Params, trials int, seed uint64) (Simulation, error) {
	const op = "durability.Simulate"
	if err := p.Validate(); err != nil {
		return Simulation{}, err
	}
	if trials < 1 {
		return Simulation{}, errs.Errorf(op, errs.Invalid, "%d trials: want at least 1", trials)
	}
	type outcome struct{ losses, failures int }
	out := make([]outcome, trials)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), trials) {
		wg.Go(func() {
			h := newHistory(p)
			for i := range next {
				// A stream per trial keeps the result independent of
				// which worker ran it.
				rng := rand.New(rand.NewPCG(seed, uint64(i)))
				for range p.Groups() {
					l, f := h.group(rng)
					out[i].losses += l
					out[i].failures += f
				}
			}
		})
	}
feed:
	for i := range trials {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return Simulation{}, errs.E(op, errs.Canceled, err)
	}
	s := Simulation{Trials: trials}
	for _, o := range out {
		s.LossEvents += o.losses
		s.DiskFailures += o.failures
		if o.losses > 0 {
			s.TrialsWithLoss++
		}
	}
	s.Measures = p.measures(float64(s.LossEvents) / (float64(trials) * p.Years))
	s.PLoss = float64(s.TrialsWithLoss) / float64(trials)
	s.PLossLow, s.PLossHigh = wilson(s.TrialsWithLoss, trials)
	return s, nil
}

// history simulates one placement group at a time.
type history struct {
	n, m    int
	lambda  float64   // failures per disk-year
	repair  float64   // T, years
	years   float64   // span
	pending []float64 // repair completion times of the down disks, ascending
}

func newHistory(p Params) *history {
	n := p.DataShards + p.ParityShards
	return &history{
		n: n, m: p.ParityShards, lambda: p.FailureRate(), repair: p.RepairYears(), years: p.Years,
		pending: make([]float64, 0, n),
	}
}

// group runs one group's history and returns its loss events and failures.
// Failures are exponential, hence memoryless: after each repair the time to
// the next failure is drawn afresh for the new number of healthy disks.
func (h *history) group(rng *rand.Rand) (losses, failures int) {
	h.pending = h.pending[:0]
	t := 0.0
	for {
		up := h.n - len(h.pending)
		fail := math.Inf(1)
		if up > 0 {
			fail = t + rng.ExpFloat64()/(float64(up)*h.lambda)
		}
		if len(h.pending) > 0 && h.pending[0] <= fail {
			t = h.pending[0]
			copy(h.pending, h.pending[1:]) // at most n, usually a few
			h.pending = h.pending[:len(h.pending)-1]
			continue
		}
		if fail >= h.years {
			return losses, failures
		}
		t = fail
		failures++
		// T is fixed, so completions come in failure order: append keeps
		// pending sorted.
		h.pending = append(h.pending, t+h.repair)
		if len(h.pending) == h.m+1 {
			losses++
		}
	}
}

// wilson is the 95 % Wilson score interval of k successes in n trials.
func wilson(k, n int) (lo, hi float64) {
	const z = 1.959963984540054
	p, nn := float64(k)/float64(n), float64(n)
	den := 1 + z*z/nn
	mid := (p + z*z/(2*nn)) / den
	half := z * math.Sqrt(p*(1-p)/nn+z*z/(4*nn*nn)) / den
	return math.Max(0, mid-half), math.Min(1, mid+half)
}
