package durability

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// hundredthYear is a disk that takes 0.01 year to rebuild at 1 MB/s.
const hundredthYear = 315_576_000_000 // bytes: 0.01 × 365.25 × 86400 s × 10^6 B/s

// params with λ = lambda failures per disk-year and T = 0.01 year.
func params(disks, k, m int, lambda, years float64) Params {
	return Params{
		Disks: disks, AFR: -math.Expm1(-lambda), DiskSize: hundredthYear, RepairMBps: 1,
		DataShards: k, ParityShards: m, Years: years,
	}
}

func near(got, want, rel float64) bool {
	return math.Abs(got-want) <= rel*math.Abs(want)
}

func TestMTTDLHandComputed(t *testing.T) {
	for _, tc := range []struct {
		name      string
		p         Params
		group     float64 // years, computed by hand
		groups    int
		annualLoS float64 // loss events per year: groups / group
	}{
		// 2·100² / (6·5·4 · 0.1³) = 20000 / 0.12
		{"4+2", params(60, 4, 2, 0.1, 10), 20000 / 0.12, 10, 10 / (20000 / 0.12)},
		// RAID 5: MTTF² / (n(n−1)T) = 100 / (4·3·0.01)
		{"3+1", params(8, 3, 1, 0.1, 1), 100 / 0.12, 2, 2 / (100 / 0.12)},
		// no parity: the first failure loses data, 1/(nλ)
		{"4+0", params(9, 4, 0, 0.1, 1), 2.5, 2, 2 / 2.5},
		// 6·100³ / (9·8·7·6 · 0.1⁴) = 6e6 / 0.3024
		{"6+3", params(9, 6, 3, 0.1, 1), 6e6 / 0.3024, 1, 1 / (6e6 / 0.3024)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := MTTDL(tc.p)
			if err != nil {
				t.Fatal(err)
			}
			if !near(e.GroupMTTDLYears, tc.group, 1e-9) {
				t.Errorf("group MTTDL %g years, want %g", e.GroupMTTDLYears, tc.group)
			}
			if !near(e.MTTDLYears, tc.group/float64(tc.groups), 1e-9) || !near(e.LossEventsPerYear, tc.annualLoS, 1e-9) {
				t.Errorf("MTTDL %g years, %g events/year; want %g, %g", e.MTTDLYears, e.LossEventsPerYear, tc.group/float64(tc.groups), tc.annualLoS)
			}
			wantP := 1 - math.Exp(-tc.annualLoS*tc.p.Years)
			if !near(e.PLoss, wantP, 1e-9) {
				t.Errorf("P(loss) %g, want %g", e.PLoss, wantP)
			}
			frac := tc.annualLoS / float64(tc.groups)
			if !near(e.AnnualLossFraction, frac, 1e-9) || !near(float64(e.Nines), -math.Log10(frac), 1e-9) {
				t.Errorf("annual loss fraction %g nines %g, want %g, %g", e.AnnualLossFraction, e.Nines, frac, -math.Log10(frac))
			}
			bytes := tc.annualLoS * float64(tc.p.DataShards) * hundredthYear
			if !near(e.AnnualLossBytes, bytes, 1e-9) {
				t.Errorf("annual loss %g bytes, want %g", e.AnnualLossBytes, bytes)
			}
		})
	}
}

func TestParamsDerived(t *testing.T) {
	p := Params{Disks: 600, AFR: 0.02, DiskSize: 8e12, RepairMBps: 100, DataShards: 4, ParityShards: 2, Years: 10}
	if got := p.Groups(); got != 100 {
		t.Errorf("groups %d, want 100", got)
	}
	if got, want := p.RepairTime().Hours(), 8e12/100e6/3600; !near(got, want, 1e-9) {
		t.Errorf("repair time %g h, want %g", got, want) // 22.2 h
	}
	if got, want := p.FailureRate(), 0.020202707317519466; !near(got, want, 1e-12) {
		t.Errorf("λ %g, want −ln(0.98) = %g", got, want)
	}
}

func TestValidate(t *testing.T) {
	good := params(12, 4, 2, 0.1, 1)
	for _, tc := range []struct {
		name string
		edit func(*Params)
	}{
		{"no data shards", func(p *Params) { p.DataShards = 0 }},
		{"negative parity", func(p *Params) { p.ParityShards = -1 }},
		{"too wide", func(p *Params) { p.DataShards, p.Disks = 255, 300 }},
		{"too few disks", func(p *Params) { p.Disks = 5 }},
		{"afr zero", func(p *Params) { p.AFR = 0 }},
		{"afr one", func(p *Params) { p.AFR = 1 }},
		{"afr nan", func(p *Params) { p.AFR = math.NaN() }},
		{"disk size", func(p *Params) { p.DiskSize = 0 }},
		{"repair rate", func(p *Params) { p.RepairMBps = 0 }},
		{"years", func(p *Params) { p.Years = math.Inf(1) }},
	} {
		p := good
		tc.edit(&p)
		if _, err := MTTDL(p); !errs.Is(err, errs.Invalid) {
			t.Errorf("%s: MTTDL error %v, want invalid", tc.name, err)
		}
		if _, err := Simulate(context.Background(), p, 1, 1); !errs.Is(err, errs.Invalid) {
			t.Errorf("%s: Simulate error %v, want invalid", tc.name, err)
		}
	}
	if err := good.Validate(); err != nil {
		t.Errorf("good params: %v", err)
	}
	if _, err := Simulate(context.Background(), good, 0, 1); !errs.Is(err, errs.Invalid) {
		t.Errorf("0 trials: %v, want invalid", err)
	}
}

// TestSimulationAgreesWithClosedForm: failure rates high enough that
// thousands of trials see about a thousand losses, and repairs still fast
// enough (nλT = 0.06 or less) for the first-order formula to hold.
func TestSimulationAgreesWithClosedForm(t *testing.T) {
	for _, tc := range []struct {
		name   string
		p      Params
		trials int
		tol    float64 // relative, on loss events per year
	}{
		{"4+2", params(60, 4, 2, 1, 10), 2000, 0.12},
		{"3+1", params(40, 3, 1, 0.5, 2), 1000, 0.12},
		{"2+0", params(20, 2, 0, 0.05, 1), 2000, 0.12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := MTTDL(tc.p)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Simulate(context.Background(), tc.p, tc.trials, 42)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("simulated %d losses, %.4g/year, P %.4g [%.4g, %.4g]; formula %.4g/year, P %.4g", s.LossEvents, s.LossEventsPerYear, s.PLoss, s.PLossLow, s.PLossHigh, e.LossEventsPerYear, e.PLoss)
			if s.LossEvents < 300 {
				t.Fatalf("only %d loss events: the case cannot compare", s.LossEvents)
			}
			if !near(s.LossEventsPerYear, e.LossEventsPerYear, tc.tol) {
				t.Errorf("simulated %g loss events/year, formula %g (tolerance %g)", s.LossEventsPerYear, e.LossEventsPerYear, tc.tol)
			}
			if e.PLoss < s.PLossLow*(1-tc.tol) || e.PLoss > s.PLossHigh*(1+tc.tol) {
				t.Errorf("formula P(loss) %g outside the simulation's [%g, %g]", e.PLoss, s.PLossLow, s.PLossHigh)
			}
			wantFailures := float64(tc.p.Groups()*(tc.p.DataShards+tc.p.ParityShards)) * tc.p.FailureRate() * tc.p.Years * float64(tc.trials)
			if !near(float64(s.DiskFailures), wantFailures, 0.1) {
				t.Errorf("%d disk failures, expected about %g", s.DiskFailures, wantFailures)
			}
		})
	}
}

func TestSimulateDeterministic(t *testing.T) {
	p := params(60, 4, 2, 1, 5)
	a, err := Simulate(context.Background(), p, 300, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Simulate(context.Background(), p, 300, 7)
	c, _ := Simulate(context.Background(), p, 300, 8)
	if a != b {
		t.Errorf("same seed, different results:\n%+v\n%+v", a, b)
	}
	if a == c {
		t.Errorf("seeds 7 and 8 gave the same result %+v", a)
	}
}

func TestSimulateCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Simulate(ctx, params(60, 4, 2, 1, 5), 100000, 1); !errs.Is(err, errs.Canceled) {
		t.Errorf("error %v, want canceled", err)
	}
}

func TestWilson(t *testing.T) {
	for _, tc := range []struct {
		k, n   int
		lo, hi float64
	}{
		{0, 100, 0, 0.036995},
		{50, 100, 0.403832, 0.596168},
		{100, 100, 0.963005, 1},
	} {
		lo, hi := wilson(tc.k, tc.n)
		if math.Abs(lo-tc.lo) > 1e-5 || math.Abs(hi-tc.hi) > 1e-5 {
			t.Errorf("wilson(%d, %d) = [%g, %g], want [%g, %g]", tc.k, tc.n, lo, hi, tc.lo, tc.hi)
		}
	}
}

func TestNinesJSON(t *testing.T) {
	for _, tc := range []struct {
		n    Nines
		want string
	}{
		{11.5, "11.5"},
		{Nines(math.Inf(1)), "null"},
	} {
		b, err := json.Marshal(Measures{Nines: tc.n})
		if err != nil || !strings.Contains(string(b), `"nines":`+tc.want) {
			t.Errorf("%v: %s, %v; want nines %s", tc.n, b, err, tc.want)
		}
	}
}
