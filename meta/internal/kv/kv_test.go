package kv

import (
	"bytes"
	"testing"
)

func TestPrefixEnd(t *testing.T) {
	tests := []struct{ in, want []byte }{
		{[]byte("a"), []byte("b")},
		{[]byte("b/x/"), []byte("b/x0")},
		{[]byte{'a', 0xff}, []byte("b")},
		{[]byte{'a', 0x00}, []byte{'a', 0x01}},
		{[]byte{0xff, 0xff}, nil},
		{nil, nil},
	}
	for _, tc := range tests {
		if got := PrefixEnd(tc.in); !bytes.Equal(got, tc.want) {
			t.Errorf("PrefixEnd(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	in := []byte("ab")
	PrefixEnd(in)
	if string(in) != "ab" {
		t.Fatal("PrefixEnd modified its argument")
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set([]byte("k"), []byte("v"), nil); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir, Options{CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v, closer, err := db.Get([]byte("k"))
	if err != nil || string(v) != "v" {
		t.Fatalf("get: %q %v", v, err)
	}
	closer.Close()
}
