package procstat

import (
	"os"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name       string
		line       string
		user, sys  time.Duration
		wantErrAny bool
	}{
		{"plain", "4242 (wolke) S 1 4242 4242 0 -1 4194560 1 0 0 0 1234 56 0 0 20 0 12 0 100 0 0", 12340 * time.Millisecond, 560 * time.Millisecond, false},
		{"name with spaces and parens", "7 (a b) c)) R 1 7 7 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 1 0 0", 30 * time.Millisecond, 40 * time.Millisecond, false},
		{"no name", "7 wolke R 1", 0, 0, true},
		{"short", "7 (w) R 1 2 3", 0, 0, true},
		{"not a number", "7 (w) R 1 7 7 0 -1 0 0 0 0 0 x 4 0", 0, 0, true},
	} {
		u, err := parse([]byte(tc.line))
		if tc.wantErrAny {
			if !errs.Is(err, errs.Invalid) {
				t.Errorf("%s: error %v, want invalid", tc.name, err)
			}
			continue
		}
		if err != nil || u.User != tc.user || u.System != tc.sys {
			t.Errorf("%s: %+v, %v; want user %v system %v", tc.name, u, err, tc.user, tc.sys)
		}
	}
}

func TestUsageArithmetic(t *testing.T) {
	a := Usage{User: 3 * time.Second, System: time.Second}
	b := Usage{User: 5 * time.Second, System: 1500 * time.Millisecond}
	if d := b.Sub(a); d.User != 2*time.Second || d.System != 500*time.Millisecond || d.Total() != 2500*time.Millisecond {
		t.Errorf("b - a = %+v (total %v)", d, d.Total())
	}
}

func TestReadSelf(t *testing.T) {
	before, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Burn CPU until the kernel has charged at least one more tick.
	deadline := time.Now().Add(5 * time.Second)
	x := 0
	for time.Now().Before(deadline) {
		for i := range 1_000_000 {
			x += i
		}
		after, err := Read(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if after.Total() > before.Total() {
			return
		}
	}
	t.Errorf("no CPU time charged after 5 s of work (%d)", x)
}

func TestReadMissing(t *testing.T) {
	if _, err := Read(1 << 30); !errs.Is(err, errs.NotFound) {
		t.Errorf("error %v, want not found", err)
	}
}
