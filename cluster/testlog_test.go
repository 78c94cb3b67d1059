package cluster

import (
	"fmt"
	"testing"
)

func TestLogRingKeepsTheLastLines(t *testing.T) {
	var r logRing
	if got := r.kept(); len(got) != 0 {
		t.Fatalf("empty ring kept %q", got)
	}
	for i := range logRingLines + 5 {
		fmt.Fprintf(&r, "line %d\n", i)
	}
	got := r.kept()
	if len(got) != logRingLines || got[0] != "line 5" || got[len(got)-1] != fmt.Sprintf("line %d", logRingLines+4) {
		t.Fatalf("kept %d lines, first %q, last %q", len(got), got[0], got[len(got)-1])
	}
	if got[1] != "line 6" {
		t.Fatalf("not oldest first: %q", got[:3])
	}
}
