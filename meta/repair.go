package meta

import (
	"context"

	"github.com/wolke-cloud/wolke/meta/fsm"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/grpc"
)

// repairServer implements metapb.RepairServer on a Node, with the same
// leader forwarding and linearizable reads as the Meta service.
type repairServer struct {
	metapb.UnimplementedRepairServer
	n *Node
}

var _ metapb.RepairServer = (*repairServer)(nil)

func (s *repairServer) ScanStripes(ctx context.Context, req *metapb.ScanStripesRequest) (*metapb.ScanStripesResponse, error) {
	return read(ctx, s.n, req, repairFwd(s.n, metapb.RepairClient.ScanStripes), s.n.fsm.ScanStripes)
}

func (s *repairServer) ScanExtents(ctx context.Context, req *metapb.ScanExtentsRequest) (*metapb.ScanExtentsResponse, error) {
	return read(ctx, s.n, req, repairFwd(s.n, metapb.RepairClient.ScanExtents), s.n.fsm.ScanExtents)
}

// repairFwd adapts a metapb.RepairClient method to route's forwarding,
// which hands it a Meta client of the leader: the call goes over the same
// connection to the leader as a Repair call.
func repairFwd[Req, Resp any](n *Node, call func(metapb.RepairClient, context.Context, Req, ...grpc.CallOption) (Resp, error)) remoteFn[Req, Resp] {
	return func(_ metapb.MetaClient, ctx context.Context, req Req, opts ...grpc.CallOption) (Resp, error) {
		cc, err := n.leaderConn(ctx)
		if err != nil {
			var zero Resp
			return zero, err
		}
		return call(metapb.NewRepairClient(cc), ctx, req, opts...)
	}
}

func (s *repairServer) CheckReplaceChunk(ctx context.Context, req *metapb.ReplaceChunkRequest) (*metapb.ReplaceChunkResponse, error) {
	return read(ctx, s.n, req, repairFwd(s.n, metapb.RepairClient.CheckReplaceChunk), s.n.fsm.CheckReplaceChunk)
}

func (s *repairServer) ReplaceChunk(ctx context.Context, req *metapb.ReplaceChunkRequest) (*metapb.ReplaceChunkResponse, error) {
	return write(ctx, s.n, fsm.OpReplaceChunk, req, repairFwd(s.n, metapb.RepairClient.ReplaceChunk))
}

func (s *repairServer) ListRepairHints(ctx context.Context, req *metapb.ListRepairHintsRequest) (*metapb.ListRepairHintsResponse, error) {
	return read(ctx, s.n, req, repairFwd(s.n, metapb.RepairClient.ListRepairHints), s.n.fsm.ListRepairHints)
}

func (s *repairServer) DeleteRepairHint(ctx context.Context, req *metapb.DeleteRepairHintRequest) (*metapb.DeleteRepairHintResponse, error) {
	return write(ctx, s.n, fsm.OpDeleteRepairHint, req, repairFwd(s.n, metapb.RepairClient.DeleteRepairHint))
}
