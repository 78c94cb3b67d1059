package rpcerr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/wolke-cloud/wolke/internal/errs"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

var errTooSmall = &Reason{Kind: errs.Invalid, Name: "EntityTooSmall"}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		code   codes.Code
		kind   errs.Kind
		reason *Reason
	}{
		{"not found", errs.E("meta.Get", errs.NotFound, "no such key"), codes.NotFound, errs.NotFound, nil},
		{"exists", errs.E("meta.Create", errs.Exists), codes.AlreadyExists, errs.Exists, nil},
		{"precondition", errs.E("x", errs.Precondition), codes.FailedPrecondition, errs.Precondition, nil},
		{"invalid with reason", errs.E("meta.Complete", errs.Invalid, "part 1 is 3 bytes", errTooSmall), codes.InvalidArgument, errs.Invalid, errTooSmall},
		{"permission", errs.E("x", errs.Permission), codes.PermissionDenied, errs.Permission, nil},
		{"unavailable", errs.E("x", errs.Unavailable), codes.Unavailable, errs.Unavailable, nil},
		{"internal", errs.E("x", errs.Internal), codes.Internal, errs.Internal, nil},
		{"corrupt", errs.E("x", errs.Corrupt), codes.DataLoss, errs.Corrupt, nil},
		{"no space", errs.E("x", errs.NoSpace), codes.ResourceExhausted, errs.NoSpace, nil},
		{"canceled", context.Canceled, codes.Canceled, errs.Canceled, nil},
		{"plain", errors.New("boom"), codes.Unknown, errs.Other, nil},
		{"wrapped kind", fmt.Errorf("ctx: %w", errs.E("x", errs.NotFound)), codes.NotFound, errs.NotFound, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := ToStatus(tc.err)
			if got := status.Code(st); got != tc.code {
				t.Fatalf("code = %v, want %v", got, tc.code)
			}
			back := FromStatus(st)
			if got := errs.KindOf(back); got != tc.kind {
				t.Fatalf("kind = %v, want %v", got, tc.kind)
			}
			if back.Error() != tc.err.Error() {
				t.Fatalf("message = %q, want %q", back.Error(), tc.err.Error())
			}
			if tc.reason != nil && !errors.Is(back, tc.reason) {
				t.Fatalf("errors.Is(%v, reason %s) = false", back, tc.reason.Name)
			}
			if tc.reason == nil && errors.Is(back, errTooSmall) {
				t.Fatalf("unexpected reason match")
			}
			// A second hop (a follower forwarding) keeps everything.
			again := FromStatus(ToStatus(back))
			if errs.KindOf(again) != tc.kind || again.Error() != tc.err.Error() {
				t.Fatalf("second hop: kind %v msg %q", errs.KindOf(again), again.Error())
			}
			if tc.reason != nil && !errors.Is(again, tc.reason) {
				t.Fatalf("second hop lost the reason")
			}
		})
	}
	if ToStatus(nil) != nil || FromStatus(nil) != nil {
		t.Fatal("nil must stay nil")
	}
}

func TestKindOfCodeWithoutDetails(t *testing.T) {
	tests := []struct {
		code codes.Code
		kind errs.Kind
	}{
		{codes.Unavailable, errs.Unavailable},
		{codes.DeadlineExceeded, errs.Canceled},
		{codes.NotFound, errs.NotFound},
		{codes.Unknown, errs.Other},
		{codes.Unauthenticated, errs.Permission},
	}
	for _, tc := range tests {
		err := FromStatus(status.Error(tc.code, "x"))
		if got := errs.KindOf(err); got != tc.kind {
			t.Errorf("%v: kind %v, want %v", tc.code, got, tc.kind)
		}
	}
}

// failingHealth answers every Check with an errs error.
type failingHealth struct {
	healthpb.UnimplementedHealthServer
	err error
}

func (f *failingHealth) Check(context.Context, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	return nil, f.err
}

func TestInterceptors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(UnaryServerInterceptor()))
	want := errs.E("meta.Complete", errs.Invalid, "part 2 too small", errTooSmall)
	healthpb.RegisterHealthServer(srv, &failingHealth{err: want})
	go func() { _ = srv.Serve(ln) }()
	defer srv.Stop()

	cc, err := grpc.NewClient(ln.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(UnaryClientInterceptor()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	_, err = healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if !errs.Is(err, errs.Invalid) {
		t.Fatalf("kind of %v = %v", err, errs.KindOf(err))
	}
	if !errors.Is(err, errTooSmall) {
		t.Fatalf("reason lost: %v", err)
	}
	if err.Error() != want.Error() {
		t.Fatalf("message %q, want %q", err.Error(), want.Error())
	}
}
