package coretest

import (
	"context"
	"slices"
	"sort"
	"strings"

	"google.golang.org/grpc"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (m *Meta) ListObjects(_ context.Context, in *metapb.ListObjectsRequest, _ ...grpc.CallOption) (*metapb.ListObjectsResponse, error) {
	if err := m.enter("ListObjects"); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	keys, ok := m.objects[in.GetBucket()]
	if !ok {
		return nil, errs.E("fakemeta.ListObjects", errs.NotFound, "bucket "+in.GetBucket())
	}
	limit := int(in.GetMaxKeys())
	if limit <= 0 {
		limit = 1000
	}
	resp := &metapb.ListObjectsResponse{}
	prefix, delim, after := in.GetPrefix(), in.GetDelimiter(), in.GetStartAfter()
	n := 0
	for _, k := range sortedKeys(keys) {
		if k <= after || !strings.HasPrefix(k, prefix) {
			continue
		}
		entry, isPrefix := k, false
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				entry, isPrefix = k[:len(prefix)+i+len(delim)], true
				if entry <= after || slices.Contains(resp.CommonPrefixes, entry) {
					continue
				}
			}
		}
		if n == limit {
			resp.Truncated = true
			break
		}
		n++
		if isPrefix {
			resp.CommonPrefixes = append(resp.CommonPrefixes, entry)
		} else {
			o := clone(keys[k])
			o.IsLatest = true
			resp.Objects = append(resp.Objects, o)
		}
		resp.NextStartAfter = entry
	}
	return resp, nil
}

// EnsurePlacementGroups makes groups of k+m consecutive disks of the list
// given to NewMeta, once per shape, and returns the groups of that shape.
func (m *Meta) EnsurePlacementGroups(_ context.Context, in *metapb.EnsurePlacementGroupsRequest, _ ...grpc.CallOption) (*metapb.EnsurePlacementGroupsResponse, error) {
	if err := m.enter("EnsurePlacementGroups"); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	k, p := in.GetEcData(), in.GetEcParity()
	width := int(k + p)
	if k < 1 || p < 0 {
		return nil, errs.E("fakemeta.EnsurePlacementGroups", errs.Invalid, "bad shape")
	}
	resp := &metapb.EnsurePlacementGroupsResponse{}
	for _, g := range m.groups {
		if g.GetEcData() == k && g.GetEcParity() == p {
			resp.Groups = append(resp.Groups, clone(g))
		}
	}
	if len(resp.Groups) > 0 {
		return resp, nil
	}
	if len(m.disks) < width {
		return nil, errs.E("fakemeta.EnsurePlacementGroups", errs.Unavailable, "not enough disks")
	}
	for start := 0; start+width <= len(m.disks); start += width {
		g := &metapb.PlacementGroup{
			Id: uint64(len(m.groups) + 1), EcData: k, EcParity: p, Epoch: 1,
			Disks: slices.Clone(m.disks[start : start+width]),
		}
		m.groups = append(m.groups, g)
		resp.Groups = append(resp.Groups, clone(g))
	}
	return resp, nil
}

func (m *Meta) ListPlacementGroups(_ context.Context, _ *metapb.ListPlacementGroupsRequest, _ ...grpc.CallOption) (*metapb.ListPlacementGroupsResponse, error) {
	if err := m.enter("ListPlacementGroups"); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	resp := &metapb.ListPlacementGroupsResponse{}
	for _, g := range m.groups {
		resp.Groups = append(resp.Groups, clone(g))
	}
	return resp, nil
}

// ReplaceDisk swaps a member disk of a group and bumps its epoch. The shards
// are not moved: that is the repair worker's job.
func (m *Meta) ReplaceDisk(_ context.Context, in *metapb.ReplaceDiskRequest, _ ...grpc.CallOption) (*metapb.ReplaceDiskResponse, error) {
	if err := m.enter("ReplaceDisk"); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	for _, g := range m.groups {
		if g.GetId() != in.GetPlacementGroup() {
			continue
		}
		if in.GetEpoch() != 0 && in.GetEpoch() != g.GetEpoch() {
			return nil, errs.E("fakemeta.ReplaceDisk", errs.Precondition, "epoch changed")
		}
		i := slices.Index(g.Disks, in.GetOldDisk())
		if i < 0 {
			return nil, errs.E("fakemeta.ReplaceDisk", errs.NotFound, "disk not in group")
		}
		g.Disks[i] = in.GetNewDisk()
		g.Epoch++
		return &metapb.ReplaceDiskResponse{Group: clone(g)}, nil
	}
	return nil, errs.E("fakemeta.ReplaceDisk", errs.NotFound, "no such group")
}
