// Package iam owns Wolke's identities. This slice holds a static,
// in-memory credential store: the root keys given by the operator plus
// extra users.
package iam

import (
	"context"

	"github.com/wolke-cloud/wolke/iam/sigv4"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// RootUser is the user name of the root credential when none is given.
const RootUser = "root"

// Static is an immutable credential store; it implements
// sigv4.CredentialStore and is safe for concurrent use.
type Static struct {
	keys map[string]sigv4.Credential
}

// NewStatic builds a store from the root credential and extra users.
// Access keys and secrets must be non-empty and access keys unique.
func NewStatic(root sigv4.Credential, users ...sigv4.Credential) (*Static, error) {
	const op = "iam.NewStatic"
	if root.User == "" {
		root.User = RootUser
	}
	s := &Static{keys: make(map[string]sigv4.Credential, 1+len(users))}
	for _, c := range append([]sigv4.Credential{root}, users...) {
		switch {
		case c.AccessKey == "" || c.Secret == "":
			return nil, errs.E(op, errs.Invalid, "access key and secret must be set")
		case c.User == "":
			return nil, errs.Errorf(op, errs.Invalid, "access key %q has no user", c.AccessKey)
		}
		if _, dup := s.keys[c.AccessKey]; dup {
			return nil, errs.Errorf(op, errs.Exists, "access key %q given twice", c.AccessKey)
		}
		s.keys[c.AccessKey] = c
	}
	return s, nil
}

// Lookup returns the credential of accessKey, or an errs.NotFound error.
func (s *Static) Lookup(ctx context.Context, accessKey string) (sigv4.Credential, error) {
	if err := ctx.Err(); err != nil {
		return sigv4.Credential{}, errs.E("iam.Lookup", errs.Canceled, err)
	}
	c, ok := s.keys[accessKey]
	if !ok {
		return sigv4.Credential{}, errs.E("iam.Lookup", errs.NotFound, "unknown access key")
	}
	return c, nil
}
