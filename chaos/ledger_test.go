package chaos

import (
	"errors"
	"strings"
	"testing"
)

// TestLedgerExplains: a read the ledger refuses is reported with the
// key's last writes, the one whose body was read marked: here a PUT that
// failed before an acknowledged DELETE, the case a late commit of the
// failed PUT would produce.
func TestLedgerExplains(t *testing.T) {
	led := NewLedger()
	old := Body{Size: 3, Seed: 1}.Sum()
	late := Body{Size: 5, Seed: 2}.Sum()
	led.Put("k", 3, old, nil)
	led.Put("k", 5, late, errors.New("context deadline exceeded"))
	led.Delete("k", nil)
	if !led.CheckRead("k", [32]byte{}, 0, true) {
		t.Fatal("missing after an acknowledged DELETE refused")
	}
	if len(led.Problems()) != 0 {
		t.Fatalf("problems after an allowed read: %q", led.Problems())
	}
	if led.CheckRead("k", late, 5, false) {
		t.Fatal("a body back after an acknowledged DELETE allowed")
	}
	p := led.Problems()
	if len(p) != 1 {
		t.Fatalf("%d problems, want 1: %q", len(p), p)
	}
	for _, want := range []string{
		"acknowledged DELETE but the object is back (5 bytes)",
		"PUT 3 bytes acknowledged;",
		"PUT 5 bytes failed: context deadline exceeded [the body read];",
		"DELETE acknowledged;",
	} {
		if !strings.Contains(p[0], want) {
			t.Errorf("problem %q lacks %q", p[0], want)
		}
	}
	if strings.Count(p[0], "[the body read]") != 1 {
		t.Errorf("problem %q marks more than the failed PUT", p[0])
	}
	// Many acknowledged writes later, the failed PUT is still listed; the
	// oldest acknowledged ones are not.
	for i := range 20 {
		led.Put("k", int64(10+i), Body{Size: int64(10 + i), Seed: 3}.Sum(), nil)
	}
	led.Delete("k", nil)
	led.CheckRead("k", late, 5, false)
	p = led.Problems()
	if last := p[len(p)-1]; !strings.Contains(last, "PUT 5 bytes failed") || strings.Contains(last, "PUT 3 bytes") ||
		!strings.Contains(last, "PUT 29 bytes acknowledged") || strings.Count(last, "acknowledged;") != 8 {
		t.Errorf("problem %q: want the failed PUT and the last 8 acknowledged writes", last)
	}
}
