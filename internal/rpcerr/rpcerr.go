// Package rpcerr carries errs kinds across gRPC.
//
// On the server side an error becomes a gRPC status whose code follows the
// kind and whose details hold an ErrorInfo with the kind as a number, the
// failing op and, when the error wraps a *Reason, its stable name. On the
// client side the status becomes an *errs.Error again, with the same kind
// and message, wrapping a *Reason that matches the server's with errors.Is.
package rpcerr

import (
	"context"
	"errors"
	"strconv"

	"github.com/wolke-cloud/wolke/internal/errs"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Domain names the ErrorInfo details this package writes.
const Domain = "wolke.errs"

// Reason is a sentinel error: a kind plus a stable name (an S3 error code
// such as "InvalidPart", say) that survives the network. Wrap one as the
// cause of an errs.Error; two Reasons match under errors.Is when their
// names are equal, so a Reason rebuilt on the client side matches the
// package-level sentinel the caller compares with.
type Reason struct {
	Kind errs.Kind
	Name string
}

func (r *Reason) Error() string { return r.Name }

// Is matches another *Reason by name.
func (r *Reason) Is(target error) bool {
	t, ok := target.(*Reason)
	return ok && t.Name == r.Name
}

// kindCodes maps each kind to its gRPC code.
var kindCodes = [...]codes.Code{
	errs.Other:        codes.Unknown,
	errs.NotFound:     codes.NotFound,
	errs.Exists:       codes.AlreadyExists,
	errs.Precondition: codes.FailedPrecondition,
	errs.Invalid:      codes.InvalidArgument,
	errs.Permission:   codes.PermissionDenied,
	errs.Unavailable:  codes.Unavailable,
	errs.Internal:     codes.Internal,
	errs.Corrupt:      codes.DataLoss,
	errs.NoSpace:      codes.ResourceExhausted,
	errs.Canceled:     codes.Canceled,
}

// CodeOf returns the gRPC code for a kind.
func CodeOf(k errs.Kind) codes.Code {
	if int(k) < len(kindCodes) {
		return kindCodes[k]
	}
	return codes.Unknown
}

// KindOfCode returns the kind for a gRPC code that came without details
// (from the transport, or from a server that does not use this package).
func KindOfCode(c codes.Code) errs.Kind {
	switch c {
	case codes.OK:
		return errs.Other
	case codes.DeadlineExceeded:
		return errs.Canceled
	case codes.Aborted:
		return errs.Unavailable
	case codes.OutOfRange:
		return errs.Invalid
	case codes.Unimplemented:
		return errs.Invalid
	case codes.Unauthenticated:
		return errs.Permission
	}
	for k, code := range kindCodes {
		if code == c {
			return errs.Kind(k)
		}
	}
	return errs.Other
}

// ToStatus converts an error into a gRPC status error. Errors that are
// already status errors pass through unchanged; nil stays nil.
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		if _, isErrs := asErrs(err); !isErrs {
			return err
		}
	}
	kind := errs.KindOf(err)
	st := status.New(CodeOf(kind), err.Error())
	md := map[string]string{"kind": strconv.Itoa(int(kind))}
	var e *errs.Error
	if errors.As(err, &e) && e.Op != "" {
		md["op"] = e.Op
	}
	var r *Reason
	if errors.As(err, &r) {
		md["reason"] = r.Name
	}
	withDetails, derr := st.WithDetails(&errdetails.ErrorInfo{Domain: Domain, Reason: "kind", Metadata: md})
	if derr != nil {
		return st.Err()
	}
	return withDetails.Err()
}

func asErrs(err error) (*errs.Error, bool) {
	var e *errs.Error
	ok := errors.As(err, &e)
	return e, ok
}

// FromStatus converts a gRPC status error back into an *errs.Error with
// the kind and message it had on the server. Non-status errors are
// classified by errs.KindOf and returned as they are; nil stays nil.
func FromStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := asErrs(err); ok {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	kind := KindOfCode(st.Code())
	out := &errs.Error{Kind: kind, Msg: st.Message()}
	for _, d := range st.Details() {
		info, ok := d.(*errdetails.ErrorInfo)
		if !ok || info.GetDomain() != Domain {
			continue
		}
		md := info.GetMetadata()
		if n, err := strconv.Atoi(md["kind"]); err == nil && n >= 0 && n < 256 {
			out.Kind = errs.Kind(n)
		}
		if name := md["reason"]; name != "" {
			out.Err = &Reason{Kind: out.Kind, Name: name}
		}
	}
	if out.Err != nil {
		// The message already holds the cause's text: print it once.
		return &wrapped{e: out}
	}
	return out
}

// wrapped prints only the server's message, which already contains the
// reason's text, and unwraps to the *errs.Error that carries the kind
// and, below it, the *Reason.
type wrapped struct{ e *errs.Error }

func (w *wrapped) Error() string { return w.e.Msg }
func (w *wrapped) Unwrap() error { return w.e }

// UnaryServerInterceptor converts handler errors into status errors.
func UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		resp, err := handler(ctx, req)
		if err != nil {
			return nil, ToStatus(err)
		}
		return resp, nil
	}
}

// UnaryClientInterceptor converts status errors into errs errors.
func UnaryClientInterceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return FromStatus(invoker(ctx, method, req, reply, cc, opts...))
	}
}
