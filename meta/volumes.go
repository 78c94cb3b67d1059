package meta

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"google.golang.org/grpc"

	"github.com/wolke-cloud/wolke/meta/fsm"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// volumeServer implements metapb.VolumesServer on a Node, with the same
// leader forwarding and linearizable reads as the Meta service.
type volumeServer struct {
	metapb.UnimplementedVolumesServer
	n *Node
}

var _ metapb.VolumesServer = (*volumeServer)(nil)

// NewVolumeID returns "vol-" and 17 random hex digits, as EC2 names volumes.
func NewVolumeID() string { return "vol-" + randomHex17() }

// NewSnapshotID returns "snap-" and 17 random hex digits.
func NewSnapshotID() string { return "snap-" + randomHex17() }

func randomHex17() string {
	var b [9]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])[:17]
}

// volFwd makes a forwarding function for route out of a Volumes client
// method: route hands it the leader's Meta client, which it ignores in
// favour of a Volumes client on the same connection.
func volFwd[Req, Resp any](n *Node, m func(metapb.VolumesClient, context.Context, Req, ...grpc.CallOption) (Resp, error)) remoteFn[Req, Resp] {
	return func(_ metapb.MetaClient, ctx context.Context, req Req, opts ...grpc.CallOption) (Resp, error) {
		var zero Resp
		cc, err := n.leaderConn(ctx)
		if err != nil {
			return zero, err
		}
		return m(metapb.NewVolumesClient(cc), ctx, req, opts...)
	}
}

func (s *volumeServer) CreateVolume(ctx context.Context, req *metapb.CreateVolumeRequest) (*metapb.CreateVolumeResponse, error) {
	if v := req.GetVolume(); v != nil {
		if v.Id == "" {
			v.Id = NewVolumeID()
		}
		if v.CreatedUnixNano == 0 {
			v.CreatedUnixNano = time.Now().UnixNano()
		}
	}
	return write(ctx, s.n, fsm.OpCreateVolume, req, volFwd(s.n, metapb.VolumesClient.CreateVolume))
}

func (s *volumeServer) GetVolume(ctx context.Context, req *metapb.GetVolumeRequest) (*metapb.GetVolumeResponse, error) {
	return read(ctx, s.n, req, volFwd(s.n, metapb.VolumesClient.GetVolume), s.n.fsm.GetVolume)
}

func (s *volumeServer) ListVolumes(ctx context.Context, req *metapb.ListVolumesRequest) (*metapb.ListVolumesResponse, error) {
	return read(ctx, s.n, req, volFwd(s.n, metapb.VolumesClient.ListVolumes), s.n.fsm.ListVolumes)
}

func (s *volumeServer) DeleteVolume(ctx context.Context, req *metapb.DeleteVolumeRequest) (*metapb.DeleteVolumeResponse, error) {
	return write(ctx, s.n, fsm.OpDeleteVolume, req, volFwd(s.n, metapb.VolumesClient.DeleteVolume))
}

func (s *volumeServer) ModifyVolume(ctx context.Context, req *metapb.ModifyVolumeRequest) (*metapb.ModifyVolumeResponse, error) {
	return write(ctx, s.n, fsm.OpModifyVolume, req, volFwd(s.n, metapb.VolumesClient.ModifyVolume))
}

func (s *volumeServer) AttachVolume(ctx context.Context, req *metapb.AttachVolumeRequest) (*metapb.AttachVolumeResponse, error) {
	return write(ctx, s.n, fsm.OpAttachVolume, req, volFwd(s.n, metapb.VolumesClient.AttachVolume))
}

func (s *volumeServer) DetachVolume(ctx context.Context, req *metapb.DetachVolumeRequest) (*metapb.DetachVolumeResponse, error) {
	return write(ctx, s.n, fsm.OpDetachVolume, req, volFwd(s.n, metapb.VolumesClient.DetachVolume))
}

func (s *volumeServer) ListExtents(ctx context.Context, req *metapb.ListExtentsRequest) (*metapb.ListExtentsResponse, error) {
	return read(ctx, s.n, req, volFwd(s.n, metapb.VolumesClient.ListExtents), s.n.fsm.ListExtents)
}

func (s *volumeServer) CommitExtent(ctx context.Context, req *metapb.CommitExtentRequest) (*metapb.CommitExtentResponse, error) {
	return write(ctx, s.n, fsm.OpCommitExtent, req, volFwd(s.n, metapb.VolumesClient.CommitExtent))
}

func (s *volumeServer) CreateSnapshot(ctx context.Context, req *metapb.CreateSnapshotRequest) (*metapb.CreateSnapshotResponse, error) {
	if sn := req.GetSnapshot(); sn != nil {
		if sn.Id == "" {
			sn.Id = NewSnapshotID()
		}
		if sn.CreatedUnixNano == 0 {
			sn.CreatedUnixNano = time.Now().UnixNano()
		}
	}
	resp, err := write(ctx, s.n, fsm.OpCreateSnapshot, req, volFwd(s.n, metapb.VolumesClient.CreateSnapshot))
	if err == nil {
		// The volume's writer trusts the snapshot sequence it last asked
		// for a short while (block/volume's snapshotTrust, 50ms) before it
		// patches chunks in place: answering only after that has surely
		// passed keeps writes issued after this answer out of the snapshot.
		time.Sleep(SnapshotFence)
	}
	return resp, err
}

// SnapshotFence is how long CreateSnapshot waits after committing the
// snapshot before it answers; see block/volume's snapshotTrust.
const SnapshotFence = 200 * time.Millisecond

func (s *volumeServer) GetSnapshot(ctx context.Context, req *metapb.GetSnapshotRequest) (*metapb.GetSnapshotResponse, error) {
	return read(ctx, s.n, req, volFwd(s.n, metapb.VolumesClient.GetSnapshot), s.n.fsm.GetSnapshot)
}

func (s *volumeServer) ListSnapshots(ctx context.Context, req *metapb.ListSnapshotsRequest) (*metapb.ListSnapshotsResponse, error) {
	return read(ctx, s.n, req, volFwd(s.n, metapb.VolumesClient.ListSnapshots), s.n.fsm.ListSnapshots)
}

func (s *volumeServer) DeleteSnapshot(ctx context.Context, req *metapb.DeleteSnapshotRequest) (*metapb.DeleteSnapshotResponse, error) {
	return write(ctx, s.n, fsm.OpDeleteSnapshot, req, volFwd(s.n, metapb.VolumesClient.DeleteSnapshot))
}

func (s *volumeServer) ListGarbage(ctx context.Context, req *metapb.ListGarbageRequest) (*metapb.ListGarbageResponse, error) {
	return read(ctx, s.n, req, volFwd(s.n, metapb.VolumesClient.ListGarbage), s.n.fsm.ListGarbage)
}

func (s *volumeServer) DeleteGarbage(ctx context.Context, req *metapb.DeleteGarbageRequest) (*metapb.DeleteGarbageResponse, error) {
	return write(ctx, s.n, fsm.OpDeleteGarbage, req, volFwd(s.n, metapb.VolumesClient.DeleteGarbage))
}
