package fsm

import (
	"context"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/internal/kv"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/protobuf/proto"
)

func (t *tx) registerDisk(req *metapb.RegisterDiskRequest) (proto.Message, error) {
	const op = "meta.RegisterDisk"
	d := req.GetDisk()
	if d == nil {
		return nil, errs.E(op, errs.Invalid, "missing disk")
	}
	if err := checkID(op, "disk id", d.Id); err != nil {
		return nil, err
	}
	if err := checkID(op, "server id", d.Server); err != nil {
		return nil, err
	}
	if d.Capacity < 0 {
		return nil, errs.E(op, errs.Invalid, "negative capacity")
	}
	old := &metapb.Disk{}
	found, err := getProto(t.r, diskKey(d.Id), old)
	if err != nil {
		return nil, err
	}
	var stored *metapb.Disk
	if found {
		// A chunk server registers its disks every time it starts: keep
		// the state and registration time, refresh the rest.
		stored = old
		stored.Server, stored.Zone, stored.Capacity = d.Server, d.Zone, d.Capacity
	} else {
		stored = proto.CloneOf(d)
		if stored.State == metapb.DiskState_DISK_STATE_UNSPECIFIED {
			stored.State = metapb.DiskState_DISK_STATE_ACTIVE
		}
		if stored.RegisteredUnixNano == 0 {
			stored.RegisteredUnixNano = t.now
		}
	}
	if err := t.set(op, diskKey(d.Id), stored); err != nil {
		return nil, err
	}
	return &metapb.RegisterDiskResponse{Disk: stored}, nil
}

func (t *tx) setDiskState(req *metapb.SetDiskStateRequest) (proto.Message, error) {
	const op = "meta.SetDiskState"
	if _, ok := metapb.DiskState_name[int32(req.State)]; !ok || req.State == metapb.DiskState_DISK_STATE_UNSPECIFIED {
		return nil, errs.Errorf(op, errs.Invalid, "invalid disk state %v", req.State)
	}
	d := &metapb.Disk{}
	found, err := getProto(t.r, diskKey(req.Id), d)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errs.Errorf(op, errs.NotFound, "disk %q", req.Id)
	}
	d.State = req.State
	if err := t.set(op, diskKey(req.Id), d); err != nil {
		return nil, err
	}
	return &metapb.SetDiskStateResponse{}, nil
}

func listDisks(r reader) ([]*metapb.Disk, error) {
	lo := []byte(prefixDisks)
	it, err := newIter(r, lo, kv.PrefixEnd(lo))
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []*metapb.Disk
	for ok := it.First(); ok; ok = it.Next() {
		d := &metapb.Disk{}
		if err := proto.Unmarshal(it.Value(), d); err != nil {
			return nil, errs.E("fsm.listDisks", errs.Corrupt, err)
		}
		out = append(out, d)
	}
	return out, iterErr(it)
}

// ListDisks returns every registered disk in id order.
func (f *FSM) ListDisks(_ context.Context, _ *metapb.ListDisksRequest) (*metapb.ListDisksResponse, error) {
	resp := &metapb.ListDisksResponse{}
	err := f.view(func(r reader) error {
		var err error
		resp.Disks, err = listDisks(r)
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

func (t *tx) setMember(m *metapb.Member) (proto.Message, error) {
	const op = "meta.SetMember"
	if err := checkID(op, "member id", m.Id); err != nil {
		return nil, err
	}
	stored := &metapb.Member{Id: m.Id, RaftAddr: m.RaftAddr, GrpcAddr: m.GrpcAddr}
	if err := t.set(op, memberKey(m.Id), stored); err != nil {
		return nil, err
	}
	return stored, nil
}

func (t *tx) removeMember(req *metapb.RemoveRequest) (proto.Message, error) {
	if err := t.del("meta.RemoveMember", memberKey(req.Id)); err != nil {
		return nil, err
	}
	return &metapb.RemoveResponse{}, nil
}

// Members returns the member records (id and addresses) in id order.
func (f *FSM) Members(_ context.Context) ([]*metapb.Member, error) {
	var out []*metapb.Member
	err := f.view(func(r reader) error {
		lo := []byte(prefixMembers)
		it, err := newIter(r, lo, kv.PrefixEnd(lo))
		if err != nil {
			return err
		}
		defer it.Close()
		for ok := it.First(); ok; ok = it.Next() {
			m := &metapb.Member{}
			if err := proto.Unmarshal(it.Value(), m); err != nil {
				return errs.E("fsm.Members", errs.Corrupt, err)
			}
			out = append(out, m)
		}
		return iterErr(it)
	})
	return out, err
}

// Member returns one member record, errs.NotFound if there is none.
func (f *FSM) Member(_ context.Context, id string) (*metapb.Member, error) {
	m := &metapb.Member{}
	var found bool
	err := f.view(func(r reader) error {
		var err error
		found, err = getProto(r, memberKey(id), m)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errs.Errorf("fsm.Member", errs.NotFound, "member %q", id)
	}
	return m, nil
}
