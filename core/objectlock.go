package core

import (
	"context"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// SetObjectLock changes the retention or legal hold of a version; meta
// refuses (errs.Permission) weakening a retention that holds.
func (s *Store) SetObjectLock(ctx context.Context, req *metapb.SetObjectLockRequest) (*metapb.Object, error) {
	resp, err := s.meta.SetObjectLock(ctx, req)
	if err != nil {
		return nil, errs.E("core.SetObjectLock", errs.Other, err)
	}
	return resp.GetObject(), nil
}
