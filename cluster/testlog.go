package cluster

import (
	"strings"
	"sync"
	"testing"
)

// logRing keeps the last lines a quiet test cluster logged at WARN or
// above, so that a failed test (in CI, where WOLKE_TEST_LOG is unset)
// still shows what the cluster complained about.
type logRing struct {
	mu    sync.Mutex
	lines []string
	next  int
	full  bool
}

const logRingLines = 200

// Write takes one record of a slog text handler.
func (r *logRing) Write(p []byte) (int, error) {
	line := strings.TrimRight(string(p), "\n")
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lines == nil {
		r.lines = make([]string, logRingLines)
	}
	r.lines[r.next] = line
	r.next = (r.next + 1) % logRingLines
	if r.next == 0 {
		r.full = true
	}
	return len(p), nil
}

// dump logs the kept lines to t when the test failed.
func (r *logRing) dump(t testing.TB) {
	if !t.Failed() {
		return
	}
	if out := r.kept(); len(out) > 0 {
		t.Logf("the cluster's last %d warnings and errors:\n%s", len(out), strings.Join(out, "\n"))
	}
}

// kept returns the kept lines, oldest first.
func (r *logRing) kept() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	if r.full {
		out = append(out, r.lines[r.next:]...)
	}
	return append(out, r.lines[:r.next]...)
}
