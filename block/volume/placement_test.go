package volume

import (
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	"slices"
	"sync"
	"testing"

	"google.golang.org/grpc"

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

// sumShards records what the placer hands a shard store that takes block
// CRC32Cs from the caller.
type sumShards struct {
	Shards
	local bool
	mu    sync.Mutex
	sums  map[string][]uint32 // by disk; nil entry: written without sums
}

func (s *sumShards) WriteShard(_ context.Context, disk, _ string, _ []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sums[disk] = nil
	return nil
}

func (s *sumShards) WriteShardSummed(_ context.Context, disk, _ string, _ []byte, sums []uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sums[disk] = sums
	return nil
}

func (s *sumShards) Local(context.Context, string) bool { return s.local }

type listDisks []*metapb.Disk

func (l listDisks) ListDisks(context.Context, *metapb.ListDisksRequest, ...grpc.CallOption) (*metapb.ListDisksResponse, error) {
	return &metapb.ListDisksResponse{Disks: l}, nil
}

// TestPlacerSums: replicas of a new chunk get block CRC32Cs computed once,
// right, when the shard store takes them; shards of their own get their
// own, or those the caller knew; a store whose servers are all elsewhere
// gets none.
func TestPlacerSums(t *testing.T) {
	var disks listDisks
	for i := range 4 {
		disks = append(disks, &metapb.Disk{Id: fmt.Sprintf("d%d", i), Server: fmt.Sprintf("s%d", i), State: metapb.DiskState_DISK_STATE_ACTIVE})
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 3*blockSize/16)
	other := bytes.Repeat([]byte{7}, blockSize)
	want := crcBlocks(data)
	if len(want) != 3 || want[0] != crc32.Checksum(data[:blockSize], crc32.MakeTable(crc32.Castagnoli)) {
		t.Fatalf("crcBlocks: %v", want)
	}
	ctx := context.Background()
	for _, local := range []bool{true, false} {
		sh := &sumShards{local: local, sums: map[string][]uint32{}}
		p := &placer{disks: disks, shards: sh, replicas: 3}
		pre := crcBlocks(other) // known already: taken as they are
		got, err := p.writeEach(ctx, "c", [][]byte{data, data, other}, [][]uint32{nil, nil, pre})
		if err != nil {
			t.Fatal(err)
		}
		a, b, c := sh.sums[got[0]], sh.sums[got[1]], sh.sums[got[2]]
		if !local {
			if a != nil || b != nil || c != nil {
				t.Fatalf("servers elsewhere got sums %v %v %v", a, b, c)
			}
			continue
		}
		if !slices.Equal(a, want) || &a[0] != &b[0] || &c[0] != &pre[0] {
			t.Fatalf("sums %v %v %v, want %v shared by the first two and %v", a, b, c, want, crcBlocks(other))
		}
	}
}
