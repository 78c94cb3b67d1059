package fsm

import (
	"encoding/binary"
	"fmt"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Op names a state machine command. Values are wire format (they are in
// the raft log): append only. Ranges are kept per domain so that work on
// several domains at once cannot collide: core 1–31, S3 features 32–63,
// block volumes 64–95, repair and garbage collection 96–127. Outside the
// first range, give every op an explicit value.
type Op uint8

// The commands.
const (
	OpCreateBucket Op = iota + 1
	OpDeleteBucket
	OpPutObject
	OpDeleteObject
	OpCreateUpload
	OpPutPart
	OpCompleteUpload
	OpAbortUpload
	OpRegisterDisk
	OpSetDiskState
	OpEnsurePlacementGroups
	OpReplaceDisk
	OpSetMember
	OpRemoveMember
	// OpNoop changes nothing. A new leader applies one before serving
	// reads, so that its state machine has seen every earlier entry and,
	// as raft's own no-op and barrier entries never reach the state
	// machine, so that the applied index catches up with the commit index.
	OpNoop
	OpSetBucketVersioning
)

// S3 feature ops (32–63), explicit values.
const (
	OpSetBucketConfig Op = 63
	OpSetObjectTags   Op = 62
	OpSetObjectLock   Op = 61
	OpSetObjectACL    Op = 60
	OpDeleteSegments  Op = 59
)

var opNames = map[Op]string{
	OpCreateBucket: "CreateBucket", OpDeleteBucket: "DeleteBucket",
	OpPutObject: "PutObject", OpDeleteObject: "DeleteObject",
	OpCreateUpload: "CreateUpload", OpPutPart: "PutPart",
	OpCompleteUpload: "CompleteUpload", OpAbortUpload: "AbortUpload",
	OpRegisterDisk: "RegisterDisk", OpSetDiskState: "SetDiskState",
	OpEnsurePlacementGroups: "EnsurePlacementGroups", OpReplaceDisk: "ReplaceDisk",
	OpSetMember: "SetMember", OpRemoveMember: "RemoveMember", OpNoop: "Noop",
	OpSetBucketVersioning: "SetBucketVersioning",
	OpSetBucketConfig:     "SetBucketConfig",
	OpSetObjectTags:       "SetObjectTags",
	OpSetObjectLock:       "SetObjectLock",
	OpSetObjectACL:        "SetObjectAcl",
	OpDeleteSegments:      "DeleteSegments",
}

func (o Op) String() string {
	if s, ok := opNames[o]; ok {
		return s
	}
	if s, ok := volumeOpNames[o]; ok {
		return s
	}
	if s, ok := durabilityOpNames[o]; ok {
		return s
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// newRequest returns an empty request message for op.
func newRequest(op Op) (proto.Message, bool) {
	switch op {
	case OpCreateBucket:
		return &metapb.CreateBucketRequest{}, true
	case OpDeleteBucket:
		return &metapb.DeleteBucketRequest{}, true
	case OpPutObject:
		return &metapb.PutObjectRequest{}, true
	case OpDeleteObject:
		return &metapb.DeleteObjectRequest{}, true
	case OpCreateUpload:
		return &metapb.CreateUploadRequest{}, true
	case OpPutPart:
		return &metapb.PutPartRequest{}, true
	case OpCompleteUpload:
		return &metapb.CompleteUploadRequest{}, true
	case OpAbortUpload:
		return &metapb.AbortUploadRequest{}, true
	case OpRegisterDisk:
		return &metapb.RegisterDiskRequest{}, true
	case OpSetDiskState:
		return &metapb.SetDiskStateRequest{}, true
	case OpEnsurePlacementGroups:
		return &metapb.EnsurePlacementGroupsRequest{}, true
	case OpReplaceDisk:
		return &metapb.ReplaceDiskRequest{}, true
	case OpSetMember:
		return &metapb.Member{}, true
	case OpRemoveMember:
		return &metapb.RemoveRequest{}, true
	case OpNoop:
		return &emptypb.Empty{}, true
	case OpSetBucketVersioning:
		return &metapb.SetBucketVersioningRequest{}, true
	case OpSetBucketConfig:
		return &metapb.SetBucketConfigRequest{}, true
	case OpSetObjectLock:
		return &metapb.SetObjectLockRequest{}, true
	case OpSetObjectTags:
		return &metapb.SetObjectTagsRequest{}, true
	case OpSetObjectACL:
		return &metapb.SetObjectAclRequest{}, true
	case OpDeleteSegments:
		return &metapb.DeleteSegmentsRequest{}, true
	}
	if m, ok := volumeRequest(op); ok {
		return m, true
	}
	if m, ok := durabilityRequest(op); ok {
		return m, true
	}
	return nil, false
}

// Command is one entry of the raft log. Everything random or clock-based
// is chosen by the proposer and travels in the command, so that every
// replica applies it the same way.
type Command struct {
	Op  Op
	Now int64  // unix nanos chosen by the proposer: default mtimes
	ID  string // a fresh unique id chosen by the proposer (delete marker version ids)
	Req proto.Message
}

const commandVersion = 1

// Encode serializes c: version, op, varint now, uvarint len + id, request.
func (c *Command) Encode() ([]byte, error) {
	body, err := proto.Marshal(c.Req)
	if err != nil {
		return nil, errs.E("fsm.Encode", errs.Invalid, err)
	}
	b := make([]byte, 0, len(body)+len(c.ID)+16)
	b = append(b, commandVersion, byte(c.Op))
	b = binary.AppendVarint(b, c.Now)
	b = binary.AppendUvarint(b, uint64(len(c.ID)))
	b = append(b, c.ID...)
	return append(b, body...), nil
}

// DecodeCommand parses an encoded command.
func DecodeCommand(b []byte) (*Command, error) {
	const op = "fsm.DecodeCommand"
	if len(b) < 2 || b[0] != commandVersion {
		return nil, errs.E(op, errs.Corrupt, "bad command header")
	}
	c := &Command{Op: Op(b[1])}
	b = b[2:]
	now, n := binary.Varint(b)
	if n <= 0 {
		return nil, errs.E(op, errs.Corrupt, "bad command time")
	}
	c.Now = now
	b = b[n:]
	l, n := binary.Uvarint(b)
	if n <= 0 || uint64(len(b)-n) < l {
		return nil, errs.E(op, errs.Corrupt, "bad command id")
	}
	c.ID = string(b[n : n+int(l)])
	b = b[n+int(l):]
	req, ok := newRequest(c.Op)
	if !ok {
		return nil, errs.Errorf(op, errs.Corrupt, "unknown op %d", c.Op)
	}
	if err := proto.Unmarshal(b, req); err != nil {
		return nil, errs.E(op, errs.Corrupt, err)
	}
	c.Req = req
	return c, nil
}
