package durability

import (
	"context"
	"math"
	"strings"
	"testing"
)

func TestFormatHelpers(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{bytesSI(8e12), "8 TB"},
		{bytesSI(1234), "1.23 kB"},
		{bytesSI(0), "0 B"},
		{years(166666.7), "166666.7 years"},
		{years(2.5e9), "2.5e+09 years"},
		{years(0.5), "182.6 days"},
		{years(math.Inf(1)), "∞"},
		{sci(0), "0"},
		{sci(0.000123456), "0.000123"},
		{ninesText(Nines(math.Inf(1))), "∞ (no loss)"},
		{ninesText(11.234), "11.23"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestWriteMarkdown(t *testing.T) {
	p := params(60, 4, 2, 1, 10)
	e, err := MTTDL(p)
	if err != nil {
		t.Fatal(err)
	}
	sim, err := Simulate(context.Background(), p, 50, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		sim  *Simulation
		want []string
	}{
		{"both", &sim, []string{"60 disks in 10 placement groups of 4+2", "repair window 87.7 h", "| MTTDL of one group | 166.7 years |", "Monte Carlo (50 trials, seed 3)", "of 50 trials"}},
		{"formula only", nil, []string{"Monte Carlo: not run", "| loss events per year | 0.06 | — |"}},
	} {
		var b strings.Builder
		if err := WriteMarkdown(&b, p, e, tc.sim, 3); err != nil {
			t.Fatal(err)
		}
		for _, w := range tc.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s: output lacks %q:\n%s", tc.name, w, b.String())
			}
		}
	}
}
