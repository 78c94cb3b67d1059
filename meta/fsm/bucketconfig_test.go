package fsm

import (
	"bytes"
	"strings"
	"testing"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metaerr"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

func TestSetBucketConfig(t *testing.T) {
	h := newHarness(t)
	h.bucket("bk", "")
	tests := []struct {
		name string
		req  *metapb.SetBucketConfigRequest
		kind errs.Kind
	}{
		{"set cors", &metapb.SetBucketConfigRequest{Name: "bk", Key: "cors", Value: []byte("<x/>")}, errs.Other},
		{"set policy", &metapb.SetBucketConfigRequest{Name: "bk", Key: "policy", Value: []byte("{}")}, errs.Other},
		{"unknown key", &metapb.SetBucketConfigRequest{Name: "bk", Key: "website", Value: []byte("x")}, errs.Invalid},
		{"empty value", &metapb.SetBucketConfigRequest{Name: "bk", Key: "cors"}, errs.Invalid},
		{"delete with value", &metapb.SetBucketConfigRequest{Name: "bk", Key: "cors", Value: []byte("x"), Delete: true}, errs.Invalid},
		{"too large", &metapb.SetBucketConfigRequest{Name: "bk", Key: "policy", Value: []byte(strings.Repeat("x", MaxBucketConfig+1))}, errs.Invalid},
		{"no bucket", &metapb.SetBucketConfigRequest{Name: "nope", Key: "cors", Value: []byte("x")}, errs.NotFound},
		{"delete cors", &metapb.SetBucketConfigRequest{Name: "bk", Key: "cors", Delete: true}, errs.Other},
		{"delete absent", &metapb.SetBucketConfigRequest{Name: "bk", Key: "lifecycle", Delete: true}, errs.Other},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.do(OpSetBucketConfig, tc.req)
			if tc.kind == errs.Other {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errs.Is(err, tc.kind) {
				t.Fatalf("got %v, want kind %v", err, tc.kind)
			}
		})
	}
	_, err := h.do(OpSetBucketConfig, &metapb.SetBucketConfigRequest{Name: "nope", Key: "cors", Value: []byte("x")})
	checkErr(t, err, errs.NotFound, metaerr.ErrNoSuchBucket)
	b, err := h.f.GetBucket(ctx, &metapb.GetBucketRequest{Name: "bk"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := b.Bucket.Config
	if len(cfg) != 1 || !bytes.Equal(cfg["policy"], []byte("{}")) {
		t.Fatalf("config %q", cfg)
	}
	// The config survives a snapshot and restore.
	snap := snapshotBytes(t, h.f)
	h2 := newHarness(t)
	if err := restore(h2.f, snap); err != nil {
		t.Fatal(err)
	}
	b, err = h2.f.GetBucket(ctx, &metapb.GetBucketRequest{Name: "bk"})
	if err != nil || string(b.Bucket.Config["policy"]) != "{}" {
		t.Fatalf("restored %v %v", b, err)
	}
}
