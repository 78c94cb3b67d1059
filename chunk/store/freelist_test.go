package store

import (
	"errors"
	"reflect"
	"testing"
)

func TestFreelist(t *testing.T) {
	type step struct {
		op      string // alloc, add, remove
		e       extent // add/remove; alloc uses e.n
		wantErr bool
		want    []extent // the free set afterwards
	}
	cases := []struct {
		name  string
		start []extent
		steps []step
	}{
		{"first fit", []extent{{0, 100}}, []step{
			{op: "alloc", e: extent{n: 30}, want: []extent{{30, 70}}},
			{op: "alloc", e: extent{n: 70}, want: nil},
			{op: "alloc", e: extent{n: 1}, wantErr: true, want: nil},
		}},
		{"merge both sides", []extent{{0, 10}, {20, 10}}, []step{
			{op: "add", e: extent{10, 10}, want: []extent{{0, 30}}},
		}},
		{"merge prev, next, none", []extent{{0, 10}, {50, 10}}, []step{
			{op: "add", e: extent{10, 5}, want: []extent{{0, 15}, {50, 10}}},
			{op: "add", e: extent{40, 10}, want: []extent{{0, 15}, {40, 20}}},
			{op: "add", e: extent{25, 5}, want: []extent{{0, 15}, {25, 5}, {40, 20}}},
		}},
		{"double free refused", []extent{{0, 10}}, []step{
			{op: "add", e: extent{5, 10}, wantErr: true, want: []extent{{0, 10}}},
			{op: "add", e: extent{0, 1}, wantErr: true, want: []extent{{0, 10}}},
		}},
		{"remove splits", []extent{{0, 100}}, []step{
			{op: "remove", e: extent{40, 20}, want: []extent{{0, 40}, {60, 40}}},
			{op: "remove", e: extent{0, 40}, want: []extent{{60, 40}}},
			{op: "remove", e: extent{90, 10}, want: []extent{{60, 30}}},
			{op: "remove", e: extent{50, 20}, wantErr: true, want: []extent{{60, 30}}},
		}},
		{"fragmented alloc", []extent{{0, 10}, {20, 10}, {40, 10}}, []step{
			{op: "alloc", e: extent{n: 25}, want: []extent{{45, 5}}},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &freelist{dirty: map[int64]int64{}}
			for _, e := range c.start {
				f.exts = append(f.exts, e)
				f.free += e.n
			}
			shadow := &freelist{exts: append([]extent(nil), f.exts...), free: f.free}
			for i, s := range c.steps {
				var err error
				switch s.op {
				case "alloc":
					var ok bool
					if _, ok = f.alloc(s.e.n); !ok {
						err = errors.New("no fit")
					}
				case "add":
					err = f.add(s.e)
				case "remove":
					err = f.remove(s.e)
				}
				if (err != nil) != s.wantErr {
					t.Fatalf("step %d %s %+v: err = %v, wantErr %v", i, s.op, s.e, err, s.wantErr)
				}
				if !reflect.DeepEqual(f.exts, s.want) && !(len(f.exts) == 0 && len(s.want) == 0) {
					t.Fatalf("step %d: free = %v, want %v", i, f.exts, s.want)
				}
				var sum int64
				for _, e := range f.exts {
					sum += e.n
				}
				if sum != f.free {
					t.Fatalf("step %d: free counter %d, extents sum %d", i, f.free, sum)
				}
			}
			// Replaying the dirty delta onto the starting set gives the same set.
			m := map[int64]int64{}
			for _, e := range shadow.exts {
				m[e.off] = e.n
			}
			for off, n := range f.dirty {
				if n == 0 {
					delete(m, off)
				} else {
					m[off] = n
				}
			}
			want := map[int64]int64{}
			for _, e := range f.exts {
				want[e.off] = e.n
			}
			if !reflect.DeepEqual(m, want) {
				t.Fatalf("delta replay = %v, want %v", m, want)
			}
		})
	}
}
