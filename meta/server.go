package meta

import (
	"context"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/fsm"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// server implements metapb.MetaServer on a Node.
type server struct {
	metapb.UnimplementedMetaServer
	n *Node
}

var _ metapb.MetaServer = (*server)(nil)

func (s *server) CreateBucket(ctx context.Context, req *metapb.CreateBucketRequest) (*metapb.CreateBucketResponse, error) {
	return write(ctx, s.n, fsm.OpCreateBucket, req, metapb.MetaClient.CreateBucket)
}

func (s *server) GetBucket(ctx context.Context, req *metapb.GetBucketRequest) (*metapb.GetBucketResponse, error) {
	return read(ctx, s.n, req, metapb.MetaClient.GetBucket, s.n.fsm.GetBucket)
}

func (s *server) DeleteBucket(ctx context.Context, req *metapb.DeleteBucketRequest) (*metapb.DeleteBucketResponse, error) {
	return write(ctx, s.n, fsm.OpDeleteBucket, req, metapb.MetaClient.DeleteBucket)
}

func (s *server) SetBucketVersioning(ctx context.Context, req *metapb.SetBucketVersioningRequest) (*metapb.SetBucketVersioningResponse, error) {
	return write(ctx, s.n, fsm.OpSetBucketVersioning, req, metapb.MetaClient.SetBucketVersioning)
}

func (s *server) SetObjectLock(ctx context.Context, req *metapb.SetObjectLockRequest) (*metapb.SetObjectLockResponse, error) {
	return write(ctx, s.n, fsm.OpSetObjectLock, req, metapb.MetaClient.SetObjectLock)
}

func (s *server) SetBucketConfig(ctx context.Context, req *metapb.SetBucketConfigRequest) (*metapb.SetBucketConfigResponse, error) {
	return write(ctx, s.n, fsm.OpSetBucketConfig, req, metapb.MetaClient.SetBucketConfig)
}

func (s *server) ListBuckets(ctx context.Context, req *metapb.ListBucketsRequest) (*metapb.ListBucketsResponse, error) {
	return read(ctx, s.n, req, metapb.MetaClient.ListBuckets, s.n.fsm.ListBuckets)
}

func (s *server) PutObject(ctx context.Context, req *metapb.PutObjectRequest) (*metapb.PutObjectResponse, error) {
	if o := req.GetObject(); o != nil && o.VersionId == "" {
		// Used when the bucket is versioned; the state machine writes
		// "null" otherwise.
		o.VersionId = NewID(time.Now())
	}
	return write(ctx, s.n, fsm.OpPutObject, req, metapb.MetaClient.PutObject)
}

func (s *server) GetObject(ctx context.Context, req *metapb.GetObjectRequest) (*metapb.GetObjectResponse, error) {
	return read(ctx, s.n, req, metapb.MetaClient.GetObject, s.n.fsm.GetObject)
}

func (s *server) DeleteObject(ctx context.Context, req *metapb.DeleteObjectRequest) (*metapb.DeleteObjectResponse, error) {
	return write(ctx, s.n, fsm.OpDeleteObject, req, metapb.MetaClient.DeleteObject)
}

func (s *server) ListObjects(ctx context.Context, req *metapb.ListObjectsRequest) (*metapb.ListObjectsResponse, error) {
	return read(ctx, s.n, req, metapb.MetaClient.ListObjects, s.n.fsm.ListObjects)
}

func (s *server) SetObjectAcl(ctx context.Context, req *metapb.SetObjectAclRequest) (*metapb.SetObjectAclResponse, error) {
	return write(ctx, s.n, fsm.OpSetObjectACL, req, metapb.MetaClient.SetObjectAcl)
}

func (s *server) SetObjectTags(ctx context.Context, req *metapb.SetObjectTagsRequest) (*metapb.SetObjectTagsResponse, error) {
	return write(ctx, s.n, fsm.OpSetObjectTags, req, metapb.MetaClient.SetObjectTags)
}

func (s *server) ListObjectVersions(ctx context.Context, req *metapb.ListObjectVersionsRequest) (*metapb.ListObjectVersionsResponse, error) {
	return read(ctx, s.n, req, metapb.MetaClient.ListObjectVersions, s.n.fsm.ListObjectVersions)
}

func (s *server) CreateUpload(ctx context.Context, req *metapb.CreateUploadRequest) (*metapb.CreateUploadResponse, error) {
	if u := req.GetUpload(); u != nil && u.UploadId == "" {
		u.UploadId = NewID(time.Now())
	}
	return write(ctx, s.n, fsm.OpCreateUpload, req, metapb.MetaClient.CreateUpload)
}

func (s *server) GetUpload(ctx context.Context, req *metapb.GetUploadRequest) (*metapb.GetUploadResponse, error) {
	return read(ctx, s.n, req, metapb.MetaClient.GetUpload, s.n.fsm.GetUpload)
}

func (s *server) PutPart(ctx context.Context, req *metapb.PutPartRequest) (*metapb.PutPartResponse, error) {
	return write(ctx, s.n, fsm.OpPutPart, req, metapb.MetaClient.PutPart)
}

func (s *server) ListParts(ctx context.Context, req *metapb.ListPartsRequest) (*metapb.ListPartsResponse, error) {
	return read(ctx, s.n, req, metapb.MetaClient.ListParts, s.n.fsm.ListParts)
}

func (s *server) CompleteUpload(ctx context.Context, req *metapb.CompleteUploadRequest) (*metapb.CompleteUploadResponse, error) {
	now := time.Now()
	if req.MtimeUnixNano == 0 {
		req.MtimeUnixNano = now.UnixNano()
	}
	if req.VersionId == "" {
		req.VersionId = NewID(now)
	}
	return write(ctx, s.n, fsm.OpCompleteUpload, req, metapb.MetaClient.CompleteUpload)
}

func (s *server) AbortUpload(ctx context.Context, req *metapb.AbortUploadRequest) (*metapb.AbortUploadResponse, error) {
	return write(ctx, s.n, fsm.OpAbortUpload, req, metapb.MetaClient.AbortUpload)
}

func (s *server) ListUploads(ctx context.Context, req *metapb.ListUploadsRequest) (*metapb.ListUploadsResponse, error) {
	return read(ctx, s.n, req, metapb.MetaClient.ListUploads, s.n.fsm.ListUploads)
}

func (s *server) RegisterDisk(ctx context.Context, req *metapb.RegisterDiskRequest) (*metapb.RegisterDiskResponse, error) {
	return write(ctx, s.n, fsm.OpRegisterDisk, req, metapb.MetaClient.RegisterDisk)
}

func (s *server) SetDiskState(ctx context.Context, req *metapb.SetDiskStateRequest) (*metapb.SetDiskStateResponse, error) {
	return write(ctx, s.n, fsm.OpSetDiskState, req, metapb.MetaClient.SetDiskState)
}

func (s *server) ListDisks(ctx context.Context, req *metapb.ListDisksRequest) (*metapb.ListDisksResponse, error) {
	return read(ctx, s.n, req, metapb.MetaClient.ListDisks, s.n.fsm.ListDisks)
}

func (s *server) EnsurePlacementGroups(ctx context.Context, req *metapb.EnsurePlacementGroupsRequest) (*metapb.EnsurePlacementGroupsResponse, error) {
	return write(ctx, s.n, fsm.OpEnsurePlacementGroups, req, metapb.MetaClient.EnsurePlacementGroups)
}

func (s *server) ListPlacementGroups(ctx context.Context, req *metapb.ListPlacementGroupsRequest) (*metapb.ListPlacementGroupsResponse, error) {
	return read(ctx, s.n, req, metapb.MetaClient.ListPlacementGroups, s.n.fsm.ListPlacementGroups)
}

func (s *server) ReplaceDisk(ctx context.Context, req *metapb.ReplaceDiskRequest) (*metapb.ReplaceDiskResponse, error) {
	return write(ctx, s.n, fsm.OpReplaceDisk, req, metapb.MetaClient.ReplaceDisk)
}

func (s *server) Join(ctx context.Context, req *metapb.JoinRequest) (*metapb.JoinResponse, error) {
	m := req.GetMember()
	if m == nil {
		return nil, errs.E("meta.Join", errs.Invalid, "missing member")
	}
	return route(ctx, s.n, req, metapb.MetaClient.Join, func(ctx context.Context) (*metapb.JoinResponse, error) {
		return &metapb.JoinResponse{}, s.n.join(ctx, m.Id, m.RaftAddr, m.GrpcAddr)
	})
}

func (s *server) Remove(ctx context.Context, req *metapb.RemoveRequest) (*metapb.RemoveResponse, error) {
	return route(ctx, s.n, req, metapb.MetaClient.Remove, func(ctx context.Context) (*metapb.RemoveResponse, error) {
		return &metapb.RemoveResponse{}, s.n.remove(ctx, req.Id)
	})
}

func (s *server) Members(ctx context.Context, req *metapb.MembersRequest) (*metapb.MembersResponse, error) {
	return s.n.membersRPC(ctx, req)
}

func (s *server) GetObjectSegments(ctx context.Context, req *metapb.GetObjectSegmentsRequest) (*metapb.GetObjectSegmentsResponse, error) {
	return read(ctx, s.n, req, metapb.MetaClient.GetObjectSegments, s.n.fsm.GetObjectSegments)
}

func (s *server) ListSegmentGarbage(ctx context.Context, req *metapb.ListSegmentGarbageRequest) (*metapb.ListSegmentGarbageResponse, error) {
	return read(ctx, s.n, req, metapb.MetaClient.ListSegmentGarbage, s.n.fsm.ListSegmentGarbage)
}

func (s *server) DeleteSegments(ctx context.Context, req *metapb.DeleteSegmentsRequest) (*metapb.DeleteSegmentsResponse, error) {
	return write(ctx, s.n, fsm.OpDeleteSegments, req, metapb.MetaClient.DeleteSegments)
}

func (s *server) PutIntent(ctx context.Context, req *metapb.PutIntentRequest) (*metapb.PutIntentResponse, error) {
	return write(ctx, s.n, fsm.OpPutIntent, req, metapb.MetaClient.PutIntent)
}

func (s *server) DeleteIntent(ctx context.Context, req *metapb.DeleteIntentRequest) (*metapb.DeleteIntentResponse, error) {
	return write(ctx, s.n, fsm.OpDeleteIntent, req, metapb.MetaClient.DeleteIntent)
}

func (s *server) ListIntents(ctx context.Context, req *metapb.ListIntentsRequest) (*metapb.ListIntentsResponse, error) {
	return read(ctx, s.n, req, metapb.MetaClient.ListIntents, s.n.fsm.ListIntents)
}
