package durability

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// WriteMarkdown writes the closed form next to the simulation (sim may be
// nil) as a Markdown table, under a line that restates the parameters.
func WriteMarkdown(w io.Writer, p Params, e Estimate, sim *Simulation, seed uint64) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%d disks in %d placement groups of %d+%d, AFR %.3g %%, %s disks rebuilt at %g MB/s (repair window %.1f h), over %g years\n\n",
		p.Disks, p.Groups(), p.DataShards, p.ParityShards, 100*p.AFR, bytesSI(float64(p.DiskSize)), p.RepairMBps,
		p.RepairTime().Hours(), p.Years)
	simHead := "Monte Carlo: not run"
	if sim != nil {
		simHead = fmt.Sprintf("Monte Carlo (%d trials, seed %d)", sim.Trials, seed)
	}
	fmt.Fprintf(&b, "| | closed form (Markov) | %s |\n|---|--:|--:|\n", simHead)
	row := func(name, formula string, simulated func(*Simulation) string) {
		s := "—"
		if sim != nil {
			s = simulated(sim)
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", name, formula, s)
	}
	row("MTTDL of one group", years(e.GroupMTTDLYears), func(*Simulation) string { return "—" })
	row("MTTDL of the cluster", years(e.MTTDLYears), func(s *Simulation) string {
		if s.LossEventsPerYear == 0 {
			return "no loss seen"
		}
		return years(1 / s.LossEventsPerYear)
	})
	row("loss events per year", sci(e.LossEventsPerYear), func(s *Simulation) string {
		return fmt.Sprintf("%s (%d events)", sci(s.LossEventsPerYear), s.LossEvents)
	})
	row(fmt.Sprintf("P(data loss within %g years)", p.Years), sci(e.PLoss), func(s *Simulation) string {
		return fmt.Sprintf("%s (95 %%: %s – %s; %d of %d trials)", sci(s.PLoss), sci(s.PLossLow), sci(s.PLossHigh), s.TrialsWithLoss, s.Trials)
	})
	row("expected loss per year", bytesSI(e.AnnualLossBytes), func(s *Simulation) string { return bytesSI(s.AnnualLossBytes) })
	row("share of data lost per year", sci(e.AnnualLossFraction), func(s *Simulation) string { return sci(s.AnnualLossFraction) })
	row("durability (nines per year)", ninesText(e.Nines), func(s *Simulation) string { return ninesText(s.Nines) })
	if sim != nil {
		fmt.Fprintf(&b, "\n%d disk failures simulated in %d trials.\n", sim.DiskFailures, sim.Trials)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func years(y float64) string {
	switch {
	case math.IsInf(y, 0):
		return "∞"
	case y >= 1e6:
		return fmt.Sprintf("%.3g years", y)
	case y >= 1:
		return fmt.Sprintf("%.1f years", y)
	default:
		return fmt.Sprintf("%.1f days", y*365.25)
	}
}

func sci(v float64) string {
	if v == 0 {
		return "0"
	}
	return fmt.Sprintf("%.3g", v)
}

func ninesText(n Nines) string {
	if math.IsInf(float64(n), 1) {
		return "∞ (no loss)"
	}
	return fmt.Sprintf("%.2f", float64(n))
}

// bytesSI writes a byte count in decimal units, as disks are sold.
func bytesSI(v float64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB", "EB"}
	i := 0
	for v >= 1000 && i < len(units)-1 {
		v /= 1000
		i++
	}
	if v == 0 {
		return "0 B"
	}
	return fmt.Sprintf("%.3g %s", v, units[i])
}
