package nbd

import (
	"context"
	"crypto/tls"
	"fmt"
	"reflect"
	"testing"

	"github.com/wolke-cloud/wolke/internal/errs"
)

func TestErrnoTable(t *testing.T) {
	cases := []struct {
		err   error
		errno uint32
		rep   uint32
	}{
		{nil, errnoOK, 0},
		{errs.E("x", errs.Invalid), errnoEINVAL, repErrInvalid},
		{errs.E("x", errs.Permission), errnoEPERM, repErrPolicy},
		{errs.E("x", errs.Precondition), errnoEIO, repErrPolicy},
		{errs.E("x", errs.NoSpace), errnoENOSPC, repErrUnknown},
		{errs.E("x", errs.Corrupt), errnoEIO, repErrUnknown},
		{errs.E("x", errs.Internal), errnoEIO, repErrUnknown},
		{errs.E("x", errs.Unavailable), errnoEIO, repErrUnknown},
		{errs.E("x", errs.NotFound), errnoEIO, repErrUnknown},
		{fmt.Errorf("wrapped: %w", errs.E("x", errs.NoSpace)), errnoENOSPC, repErrUnknown},
		{context.Canceled, errnoESHUTDOWN, repErrShutdown},
		{fmt.Errorf("plain"), errnoEIO, repErrUnknown},
	}
	for _, c := range cases {
		if got := errnoOf(c.err); got != c.errno {
			t.Errorf("errnoOf(%v) = %d, want %d", c.err, got, c.errno)
		}
		if c.err != nil {
			if got := optionErrorOf(c.err); got != c.rep {
				t.Errorf("optionErrorOf(%v) = %#x, want %#x", c.err, got, c.rep)
			}
		}
	}
}

func TestDescriptors(t *testing.T) {
	hole := Extent{Length: 4096, Hole: true, Zero: true}
	data := Extent{Length: 4096}
	cases := []struct {
		name string
		ext  []Extent
		n    int64
		one  bool
		want []uint32
	}{
		{"merge equal", []Extent{hole, hole, data}, 1 << 20, false, []uint32{8192, 3, 4096, 0}},
		{"clip to request", []Extent{hole, data}, 6000, false, []uint32{4096, 3, 1904, 0}},
		{"req one", []Extent{data, hole}, 1 << 20, true, []uint32{4096, 0}},
		{"req one merged", []Extent{data, data, hole}, 1 << 20, true, []uint32{8192, 0}},
		{"zero length ends", []Extent{data, {Length: 0}, hole}, 1 << 20, false, []uint32{4096, 0}},
		{"empty", nil, 512, false, nil},
		{"huge extent", []Extent{{Length: 1 << 40}}, 0xffffffff, false, []uint32{0xffffffff, 0}},
	}
	for _, c := range cases {
		if got := descriptors(c.ext, c.n, c.one); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestParseMetaRequest(t *testing.T) {
	enc := func(name string, qs ...string) []byte {
		var p []byte
		p = append(p, byte(len(name)>>24), byte(len(name)>>16), byte(len(name)>>8), byte(len(name)))
		p = append(p, name...)
		p = append(p, 0, 0, 0, byte(len(qs)))
		for _, q := range qs {
			p = append(p, 0, 0, 0, byte(len(q)))
			p = append(p, q...)
		}
		return p
	}
	cases := []struct {
		name    string
		data    []byte
		ok      bool
		queries []string
		list    bool
		match   bool
	}{
		{"none list", enc("a"), true, nil, true, true},
		{"none set", enc("a"), true, nil, false, false},
		{"exact", enc("a", "base:allocation"), true, []string{"base:allocation"}, false, true},
		{"wildcard list", enc("a", "base:"), true, []string{"base:"}, true, true},
		{"wildcard set", enc("a", "base:"), true, []string{"base:"}, false, false},
		{"other namespace", enc("a", "qemu:dirty-bitmap:b"), true, []string{"qemu:dirty-bitmap:b"}, false, false},
		{"no colon", enc("a", "allocation"), false, nil, false, false},
		{"trailing", append(enc("a"), 1), false, nil, false, false},
		{"count too big", enc("a", "base:allocation")[:9], false, nil, false, false},
		{"short", []byte{0, 0}, false, nil, false, false},
	}
	for _, c := range cases {
		name, qs, err := parseMetaRequest(c.data)
		if (err == nil) != c.ok {
			t.Errorf("%s: err %v", c.name, err)
			continue
		}
		if err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Errorf("%s: kind %v", c.name, errs.KindOf(err))
			}
			continue
		}
		if name != "a" || !reflect.DeepEqual(qs, c.queries) {
			t.Errorf("%s: %q %q", c.name, name, qs)
		}
		if m := matchMeta(qs, c.list); m != c.match {
			t.Errorf("%s: match %v", c.name, m)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{}, true},
		{"small payload", Config{MaxPayload: 4096}, false},
		{"odd payload", Config{MaxPayload: 1<<20 + 1}, false},
		{"tls required without tls", Config{TLSRequired: true}, false},
		{"tls required", Config{TLSRequired: true, TLS: &tls.Config{}}, true},
		{"negative workers", Config{Workers: -1}, false},
		{"buffer below payload", Config{MaxBufferBytes: 1 << 20}, false},
		{"buffer", Config{MaxPayload: 1 << 20, MaxBufferBytes: 1 << 20}, true},
	}
	for _, c := range cases {
		c.cfg.SetDefaults()
		err := c.cfg.Validate()
		if (err == nil) != c.ok || (err != nil && !errs.Is(err, errs.Invalid)) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	if _, err := New(Config{}, Deps{}); !errs.Is(err, errs.Invalid) {
		t.Errorf("New without exports: %v", err)
	}
}

func TestBlockSizes(t *testing.T) {
	s := &Server{cfg: Config{MaxPayload: 1 << 20}}
	cases := []struct {
		info          ExportInfo
		mn, pref, max uint32
	}{
		{ExportInfo{}, 512, 4096, 1 << 20},
		{ExportInfo{MinBlock: 4096, PreferredBlock: 512}, 4096, 4096, 1 << 20},
		{ExportInfo{MaxBlock: 64 << 20}, 512, 4096, 1 << 20},
		{ExportInfo{MinBlock: 4096, MaxBlock: 10000}, 4096, 4096, 8192},
	}
	for _, c := range cases {
		mn, pref, mx := s.blockSizes(c.info)
		if mn != c.mn || pref != c.pref || mx != c.max {
			t.Errorf("%+v: %d %d %d", c.info, mn, pref, mx)
		}
	}
}
