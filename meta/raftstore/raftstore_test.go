package raftstore

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func open(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mkLogs(lo, hi uint64) []*raft.Log {
	var out []*raft.Log
	for i := lo; i <= hi; i++ {
		out = append(out, &raft.Log{
			Index: i, Term: i / 3, Type: raft.LogCommand,
			Data: []byte{byte(i), 1, 2}, Extensions: []byte("x"),
			AppendedAt: time.Unix(100, int64(i)),
		})
	}
	return out
}

func TestLogStore(t *testing.T) {
	tests := []struct {
		name        string
		store       [][2]uint64 // ranges stored, one StoreLogs call each
		del         [][2]uint64
		first, last uint64
		present     []uint64
		absent      []uint64
	}{
		{name: "empty", first: 0, last: 0, absent: []uint64{0, 1}},
		{name: "one batch", store: [][2]uint64{{1, 10}}, first: 1, last: 10, present: []uint64{1, 5, 10}, absent: []uint64{0, 11}},
		{name: "two batches", store: [][2]uint64{{1, 5}, {6, 9}}, first: 1, last: 9, present: []uint64{5, 6, 9}},
		{name: "compact front", store: [][2]uint64{{1, 20}}, del: [][2]uint64{{1, 15}}, first: 16, last: 20, present: []uint64{16, 20}, absent: []uint64{1, 15}},
		{name: "truncate tail", store: [][2]uint64{{1, 20}}, del: [][2]uint64{{18, 20}}, first: 1, last: 17, present: []uint64{17}, absent: []uint64{18}},
		{name: "delete all", store: [][2]uint64{{1, 5}}, del: [][2]uint64{{1, 5}}, first: 0, last: 0, absent: []uint64{1, 5}},
		{name: "overwrite after truncate", store: [][2]uint64{{1, 10}, {8, 12}}, first: 1, last: 12, present: []uint64{8, 12}},
		{name: "start after snapshot", store: [][2]uint64{{100, 110}}, first: 100, last: 110, present: []uint64{100}, absent: []uint64{99}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, dir)
			for _, r := range tc.store {
				if err := s.StoreLogs(mkLogs(r[0], r[1])); err != nil {
					t.Fatal(err)
				}
			}
			for _, r := range tc.del {
				if err := s.DeleteRange(r[0], r[1]); err != nil {
					t.Fatal(err)
				}
			}
			check := func(s *Store) {
				t.Helper()
				if f, _ := s.FirstIndex(); f != tc.first {
					t.Fatalf("first = %d, want %d", f, tc.first)
				}
				if l, _ := s.LastIndex(); l != tc.last {
					t.Fatalf("last = %d, want %d", l, tc.last)
				}
				for _, i := range tc.present {
					var got raft.Log
					if err := s.GetLog(i, &got); err != nil {
						t.Fatalf("GetLog(%d): %v", i, err)
					}
					want := mkLogs(i, i)[0]
					if got.Index != i || got.Term != want.Term || got.Type != want.Type ||
						!bytes.Equal(got.Data, want.Data) || !bytes.Equal(got.Extensions, want.Extensions) ||
						!got.AppendedAt.Equal(want.AppendedAt) {
						t.Fatalf("GetLog(%d) = %+v, want %+v", i, got, want)
					}
				}
				for _, i := range tc.absent {
					var got raft.Log
					if err := s.GetLog(i, &got); !errors.Is(err, raft.ErrLogNotFound) {
						t.Fatalf("GetLog(%d) err = %v, want ErrLogNotFound", i, err)
					}
				}
			}
			check(s)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = open(t, dir) // reopen: everything persisted
			defer s.Close()
			check(s)
		})
	}
}

func TestStoreLogSingle(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	l := &raft.Log{Index: 7, Term: 2, Type: raft.LogConfiguration, Data: []byte("cfg")}
	if err := s.StoreLog(l); err != nil {
		t.Fatal(err)
	}
	var got raft.Log
	if err := s.GetLog(7, &got); err != nil {
		t.Fatal(err)
	}
	if got.Type != raft.LogConfiguration || string(got.Data) != "cfg" || !got.AppendedAt.IsZero() || got.Extensions != nil {
		t.Fatalf("got %+v", got)
	}
	if !s.IsMonotonic() {
		t.Fatal("store must be monotonic")
	}
}

func TestStableStore(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	tests := []struct {
		key []byte
		val []byte
		u   uint64
	}{
		{key: []byte("CurrentTerm"), u: 42},
		{key: []byte("LastVoteTerm"), u: 1 << 40},
		{key: []byte("LastVoteCand"), val: []byte("node-1")},
		{key: []byte("empty"), val: []byte{}},
	}
	for _, tc := range tests {
		var err error
		if tc.val != nil {
			err = s.Set(tc.key, tc.val)
		} else {
			err = s.SetUint64(tc.key, tc.u)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	check := func(s *Store) {
		t.Helper()
		for _, tc := range tests {
			if tc.val != nil {
				got, err := s.Get(tc.key)
				if err != nil || !bytes.Equal(got, tc.val) {
					t.Fatalf("Get(%s) = %q, %v", tc.key, got, err)
				}
				continue
			}
			got, err := s.GetUint64(tc.key)
			if err != nil || got != tc.u {
				t.Fatalf("GetUint64(%s) = %d, %v", tc.key, got, err)
			}
		}
		if v, err := s.Get([]byte("missing")); err != nil || len(v) != 0 {
			t.Fatalf("missing Get = %q, %v", v, err)
		}
		if v, err := s.GetUint64([]byte("missing")); err != nil || v != 0 {
			t.Fatalf("missing GetUint64 = %d, %v", v, err)
		}
		// Stable keys never show up as logs.
		if l, _ := s.LastIndex(); l != 0 {
			t.Fatalf("last index %d after stable writes", l)
		}
	}
	check(s)
	s.Close()
	s = open(t, dir)
	defer s.Close()
	check(s)
	if err := s.Set([]byte("bad"), []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetUint64([]byte("bad")); err == nil {
		t.Fatal("GetUint64 of a 2-byte value must fail")
	}
}

func TestDecodeCorrupt(t *testing.T) {
	good := encodeLog(nil, mkLogs(3, 3)[0])
	tests := [][]byte{nil, {9}, good[:len(good)-1], append(append([]byte{}, good...), 0)}
	for i, b := range tests {
		var l raft.Log
		if err := decodeLog(b, &l); err == nil {
			t.Errorf("case %d: decoded corrupt entry", i)
		}
	}
	var l raft.Log
	if err := decodeLog(good, &l); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkStoreLogs(b *testing.B) {
	s, err := Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	idx := uint64(1)
	for b.Loop() {
		logs := mkLogs(idx, idx+63)
		idx += 64
		if err := s.StoreLogs(logs); err != nil {
			b.Fatal(err)
		}
	}
}
