package spread

import (
	"math/rand/v2"
	"testing"
)

func TestOrderAvoidsUsedServersAndZones(t *testing.T) {
	cands := []Place{{"s1", "z1"}, {"s2", "z1"}, {"s3", "z2"}, {"s4", "z3"}, {"s4", "z3"}}
	used := []Place{{"s1", "z1"}, {"s3", "z2"}}
	for range 50 {
		got := Order(cands, used, rand.IntN)
		if len(got) != len(cands) {
			t.Fatalf("order %v drops candidates", got)
		}
		// s4 (unused server, unused zone) comes first; s2 (unused server,
		// used zone) next; the used servers last.
		if first := cands[got[0]]; first.Server != "s4" {
			t.Fatalf("first %v, want s4", first)
		}
		if second := cands[got[1]]; second.Server != "s2" {
			t.Fatalf("second %v, want s2 (the other s4 disk shares a server)", second)
		}
	}
}
