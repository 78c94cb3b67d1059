// Package spread orders candidate places for replicas so that any prefix
// of the order spreads over as many servers, then zones, as possible: the
// rule block volumes place their chunk replicas by, shared with the repair
// worker that re-replicates them.
package spread

// Place is where a disk is.
type Place struct {
	Server string
	Zone   string
}

// Order returns the indexes of cands arranged greedily: each next one is
// on the server least used so far, then in the zone least used so far,
// counting the places in used as already taken; ties are broken by rnd
// (rnd(n) returns a number in [0, n)), after a shuffle.
func Order(cands []Place, used []Place, rnd func(n int) int) []int {
	rest := make([]int, len(cands))
	for i := range rest {
		rest[i] = i
	}
	for i := len(rest) - 1; i > 0; i-- {
		j := rnd(i + 1)
		rest[i], rest[j] = rest[j], rest[i]
	}
	servers, zones := map[string]int{}, map[string]int{}
	for _, p := range used {
		servers[p.Server]++
		zones[p.Zone]++
	}
	out := make([]int, 0, len(rest))
	for len(rest) > 0 {
		best := 0
		for i, c := range rest {
			d, b := cands[c], cands[rest[best]]
			if servers[d.Server] < servers[b.Server] ||
				(servers[d.Server] == servers[b.Server] && zones[d.Zone] < zones[b.Zone]) {
				best = i
			}
		}
		c := rest[best]
		out = append(out, c)
		servers[cands[c].Server]++
		zones[cands[c].Zone]++
		rest = append(rest[:best], rest[best+1:]...)
	}
	return out
}
