package main

import (
	"strings"
	"testing"

	"github.com/wolke-cloud/wolke/block/volume"
)

func TestParseWriteCache(t *testing.T) {
	if got, err := parseWriteCache("write-cache", defaultWriteCache); err != nil || got != volume.DefaultWriteCache {
		t.Errorf("the flags' default %q parses to %d, %v; want volume.DefaultWriteCache, %d", defaultWriteCache, got, err, volume.DefaultWriteCache)
	}
	if got, err := parseWriteCache("write-cache-total", defaultWriteCacheTotal); err != nil || got != volume.DefaultWriteCacheTotal {
		t.Errorf("the total flags' default %q parses to %d, %v; want volume.DefaultWriteCacheTotal, %d", defaultWriteCacheTotal, got, err, volume.DefaultWriteCacheTotal)
	}
	for in, want := range map[string]int64{"0": -1, "64MiB": 64 << 20, "1GiB": 1 << 30} {
		if got, err := parseWriteCache("write-cache", in); err != nil || got != want {
			t.Errorf("parseWriteCache(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "4KiB", "lots"} {
		if got, err := parseWriteCache("write-cache-total", in); err == nil || !strings.Contains(err.Error(), "--write-cache-total") {
			t.Errorf("parseWriteCache(%q) = %d, %v; want an error naming the flag", in, got, err)
		}
	}
}

func TestParseVolumeEC(t *testing.T) {
	for in, want := range map[string][2]int{"auto": {0, 0}, "off": {-1, 0}, "4+2": {4, 2}, "8+3": {8, 3}} {
		if k, m, err := parseVolumeEC(in); err != nil || k != want[0] || m != want[1] {
			t.Errorf("parseVolumeEC(%q) = %d+%d, %v; want %d+%d", in, k, m, err, want[0], want[1])
		}
	}
	for _, in := range []string{"4+0", "4", "0+2", "on"} {
		if k, m, err := parseVolumeEC(in); err == nil {
			t.Errorf("parseVolumeEC(%q) = %d+%d, want an error", in, k, m)
		}
	}
	for in, want := range map[string][2]int{"off": {0, 0}, "4+2": {4, 2}} {
		if k, m, err := parseBlockEC(in); err != nil || k != want[0] || m != want[1] {
			t.Errorf("parseBlockEC(%q) = %d+%d, %v; want %d+%d", in, k, m, err, want[0], want[1])
		}
	}
	if k, m, err := parseBlockEC("auto"); err == nil {
		t.Errorf(`parseBlockEC("auto") = %d+%d, want an error`, k, m)
	}
}
