package main

import (
	"strings"
	"testing"
)

// TestPreallocLine redraws one line per whole percent and ends it at 100%.
func TestPreallocLine(t *testing.T) {
	var b strings.Builder
	report := preallocLine(&b)
	const total = 4 << 30
	for done := int64(0); done <= total; done += 4 << 20 {
		report(done, total)
	}
	out := b.String()
	if n := strings.Count(out, "\r"); n != 101 {
		t.Errorf("%d redraws, want 101 (0%%..100%%)", n)
	}
	if !strings.HasSuffix(out, "\rPreallocating disk files:   4.0 of 4.0 GiB (100%)\n") {
		t.Errorf("last line %q", out[strings.LastIndex(out, "\r"):])
	}
}
