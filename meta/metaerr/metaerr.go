// Package metaerr names the reasons a meta call fails with, beyond its
// errs kind: stable sub-codes that cross RPC (see rpcerr.Reason) and that
// protocol edges map to their own codes, S3's in particular. Test them
// with errors.Is(err, metaerr.ErrInvalidPart); the kind stays testable
// with errs.Is(err, errs.Invalid).
package metaerr

import (
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/internal/rpcerr"
)

// The reasons. Names are wire format: never change one.
var (
	ErrNoSuchBucket       = &rpcerr.Reason{Kind: errs.NotFound, Name: "NoSuchBucket"}
	ErrNoSuchKey          = &rpcerr.Reason{Kind: errs.NotFound, Name: "NoSuchKey"}
	ErrNoSuchVersion      = &rpcerr.Reason{Kind: errs.NotFound, Name: "NoSuchVersion"}
	ErrNoSuchUpload       = &rpcerr.Reason{Kind: errs.NotFound, Name: "NoSuchUpload"}
	ErrBucketExists       = &rpcerr.Reason{Kind: errs.Exists, Name: "BucketAlreadyExists"}
	ErrBucketNotEmpty     = &rpcerr.Reason{Kind: errs.Precondition, Name: "BucketNotEmpty"}
	ErrPreconditionFailed = &rpcerr.Reason{Kind: errs.Precondition, Name: "PreconditionFailed"}
	ErrInvalidPart        = &rpcerr.Reason{Kind: errs.Invalid, Name: "InvalidPart"}
	ErrInvalidPartOrder   = &rpcerr.Reason{Kind: errs.Invalid, Name: "InvalidPartOrder"}
	ErrEntityTooSmall     = &rpcerr.Reason{Kind: errs.Invalid, Name: "EntityTooSmall"}
	ErrNotEnoughDisks     = &rpcerr.Reason{Kind: errs.Precondition, Name: "NotEnoughDisks"}
	ErrEpochMismatch      = &rpcerr.Reason{Kind: errs.Precondition, Name: "EpochMismatch"}
	// ErrNotLeader: the node asked is not the raft leader (or knows no
	// leader yet). Nothing was proposed, so retrying elsewhere is safe.
	ErrNotLeader = &rpcerr.Reason{Kind: errs.Unavailable, Name: "NotLeader"}
)
