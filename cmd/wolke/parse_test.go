package main

import "testing"

func TestParseWriteCache(t *testing.T) {
	for in, want := range map[string]int64{"0": -1, "64MiB": 64 << 20, "1GiB": 1 << 30} {
		if got, err := parseWriteCache(in); err != nil || got != want {
			t.Errorf("parseWriteCache(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "4KiB", "lots"} {
		if got, err := parseWriteCache(in); err == nil {
			t.Errorf("parseWriteCache(%q) = %d, want an error", in, got)
		}
	}
}
