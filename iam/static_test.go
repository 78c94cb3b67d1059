package iam

import (
	"context"
	"testing"

	"github.com/wolke-cloud/wolke/iam/sigv4"
	"github.com/wolke-cloud/wolke/internal/errs"
)

var _ sigv4.CredentialStore = (*Static)(nil)

func TestNewStatic(t *testing.T) {
	root := sigv4.Credential{AccessKey: "ROOT", Secret: "s"}
	cases := []struct {
		name  string
		users []sigv4.Credential
		kind  errs.Kind
	}{
		{"root only", nil, errs.Other},
		{"users", []sigv4.Credential{{AccessKey: "A", Secret: "x", User: "alice"}}, errs.Other},
		{"empty secret", []sigv4.Credential{{AccessKey: "A", User: "alice"}}, errs.Invalid},
		{"no user", []sigv4.Credential{{AccessKey: "A", Secret: "x"}}, errs.Invalid},
		{"duplicate", []sigv4.Credential{{AccessKey: "ROOT", Secret: "x", User: "bob"}}, errs.Exists},
	}
	for _, c := range cases {
		_, err := NewStatic(root, c.users...)
		if c.kind == errs.Other && err != nil || c.kind != errs.Other && !errs.Is(err, c.kind) {
			t.Errorf("%s: err = %v, want kind %v", c.name, err, c.kind)
		}
	}
}

func TestLookup(t *testing.T) {
	s, err := NewStatic(sigv4.Credential{AccessKey: "ROOT", Secret: "rs"},
		sigv4.Credential{AccessKey: "AK", Secret: "as", User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cases := []struct {
		key, user, secret string
		found             bool
	}{
		{"ROOT", RootUser, "rs", true},
		{"AK", "alice", "as", true},
		{"nope", "", "", false},
		{"", "", "", false},
	}
	for _, c := range cases {
		got, err := s.Lookup(ctx, c.key)
		if !c.found {
			if !errs.Is(err, errs.NotFound) {
				t.Errorf("%q: err = %v, want NotFound", c.key, err)
			}
			continue
		}
		if err != nil || got.User != c.user || got.Secret != c.secret || got.AccessKey != c.key {
			t.Errorf("%q: got %+v, %v", c.key, got, err)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Lookup(cctx, "ROOT"); !errs.Is(err, errs.Canceled) {
		t.Errorf("canceled ctx: %v", err)
	}
}
