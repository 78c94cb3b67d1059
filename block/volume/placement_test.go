package volume

import (
	"fmt"
	"testing"

	"github.com/wolke-cloud/wolke/meta/metapb"
)

func TestOrder(t *testing.T) {
	disks := func(spec ...string) []*metapb.Disk { // "server/zone"
		var out []*metapb.Disk
		for i, s := range spec {
			var server, zone string
			fmt.Sscanf(s, "%1s/%2s", &server, &zone)
			out = append(out, &metapb.Disk{Id: fmt.Sprintf("d%d", i), Server: server, Zone: zone})
		}
		return out
	}
	cases := []struct {
		name    string
		disks   []*metapb.Disk
		servers int // distinct servers wanted among the first 3
		zones   int // distinct zones wanted among the first 3
	}{
		{"six servers three zones", disks("a/z1", "b/z1", "c/z2", "d/z2", "e/z3", "f/z3"), 3, 3},
		{"two disks per server", disks("a/z1", "a/z1", "b/z2", "b/z2", "c/z3", "c/z3"), 3, 3},
		{"one zone", disks("a/z1", "b/z1", "c/z1", "d/z1"), 3, 1},
		{"two zones", disks("a/z1", "b/z1", "c/z1", "d/z2"), 3, 2},
	}
	for _, c := range cases {
		for seed := range 20 {
			n := seed
			rnd := func(k int) int { n = (n*7 + 3) % 1000; return n % k }
			got := order(c.disks, rnd)
			if len(got) != len(c.disks) {
				t.Fatalf("%s: %d disks, want %d", c.name, len(got), len(c.disks))
			}
			servers, zones := map[string]bool{}, map[string]bool{}
			for _, d := range got[:3] {
				servers[d.Server], zones[d.Zone] = true, true
			}
			if len(servers) != c.servers || len(zones) != c.zones {
				t.Errorf("%s (seed %d): first three on %d servers, %d zones; want %d, %d",
					c.name, seed, len(servers), len(zones), c.servers, c.zones)
			}
		}
	}
}
