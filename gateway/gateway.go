// Package gateway is Wolke's AWS front door: one HTTP port that
// authenticates requests with SigV4, routes them by the service named in
// the credential scope, and maps errors to each protocol's codes. This
// slice serves the S3 REST API over an Objects store.
package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wolke-cloud/wolke/iam/sigv4"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// Objects is the part of the object layer (core.Store) the gateway uses.
// Unknown buckets, keys and uploads are errs.NotFound; an existing bucket
// on create is errs.Exists; deleting a non-empty bucket is
// errs.Precondition. A body reader that fails aborts the write.
type Objects interface {
	CreateBucket(ctx context.Context, b *metapb.Bucket) error
	GetBucket(ctx context.Context, name string) (*metapb.Bucket, error)
	DeleteBucket(ctx context.Context, name string) error
	ListBuckets(ctx context.Context) ([]*metapb.Bucket, error)

	PutObject(ctx context.Context, tmpl *metapb.Object, body io.Reader, size int64) (*metapb.Object, error)
	HeadObject(ctx context.Context, bucket, key, versionID string) (*metapb.Object, error)
	OpenObject(ctx context.Context, obj *metapb.Object, off, length int64) (io.ReadCloser, error)
	DeleteObject(ctx context.Context, bucket, key, versionID string) error
	ListObjects(ctx context.Context, req *metapb.ListObjectsRequest) (*metapb.ListObjectsResponse, error)

	CreateMultipartUpload(ctx context.Context, tmpl *metapb.Object) (uploadID string, err error)
	UploadPart(ctx context.Context, bucket, key, uploadID string, partNumber int32, body io.Reader, size int64) (*metapb.Part, error)
	CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []*metapb.CompletedPart) (*metapb.Object, error)
	AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error
	ListParts(ctx context.Context, req *metapb.ListPartsRequest) (*metapb.ListPartsResponse, error)
	ListMultipartUploads(ctx context.Context, req *metapb.ListUploadsRequest) (*metapb.ListUploadsResponse, error)

	ObjectFeatures // versioning, conditional writes, copies, tags (features.go)
	BucketConfigs  // CORS, policy, lifecycle, tags, ... of buckets (bucketconfig.go)
}

// Config configures the gateway.
type Config struct {
	Region string // the region requests must be signed for; default us-east-1
	// Domain enables virtual-hosted-style requests: a Host of
	// "<bucket>.<Domain>" names the bucket. Optional.
	Domain string
}

// SetDefaults fills in the defaults of unset fields.
func (c *Config) SetDefaults() {
	if c.Region == "" {
		c.Region = "us-east-1"
	}
}

// Validate reports a configuration error of kind errs.Invalid.
func (c Config) Validate() error {
	const op = "gateway.Config"
	if c.Region == "" || strings.ContainsAny(c.Region, "/ \t\n") {
		return errs.Errorf(op, errs.Invalid, "bad region %q", c.Region)
	}
	if d := c.Domain; d != "" && (strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") || strings.ContainsAny(d, "/: \t")) {
		return errs.Errorf(op, errs.Invalid, "bad domain %q", d)
	}
	return nil
}

// Deps are the gateway's collaborators.
type Deps struct {
	Objects  Objects
	Creds    sigv4.CredentialStore
	Health   func(ctx context.Context) error // nil: always healthy
	Logger   *slog.Logger
	Registry prometheus.Registerer // nil: metrics are not registered
	// Services are the other AWS APIs on this port, by the service name
	// of the SigV4 credential scope ("ec2", ...); see services.go.
	Services map[string]Service
}

// Server serves the AWS APIs.
type Server struct {
	cfg      Config
	objects  Objects
	verifier *sigv4.Verifier
	creds    sigv4.CredentialStore
	health   func(ctx context.Context) error
	log      *slog.Logger
	metrics  *metrics
	now      func() time.Time
	buckets  *bucketCache // bucket records of authorize (bucketcache.go)
	parts    partRecords  // nil when Objects keeps no part records (parts.go)

	mu      sync.Mutex
	servers map[*http.Server]struct{}

	services map[string]Service
}

// New builds a Server.
func New(cfg Config, deps Deps) (*Server, error) {
	const op = "gateway.New"
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Objects == nil || deps.Creds == nil {
		return nil, errs.E(op, errs.Invalid, "Objects and Creds are required")
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(deps.Registry)
	if err != nil {
		return nil, errs.E(op, errs.Internal, err)
	}
	s := &Server{
		cfg:      cfg,
		objects:  deps.Objects,
		verifier: &sigv4.Verifier{Creds: deps.Creds},
		creds:    deps.Creds,
		health:   deps.Health,
		log:      log,
		metrics:  m,
		now:      time.Now,
		servers:  map[*http.Server]struct{}{},
		services: deps.Services,
	}
	s.buckets = newBucketCache(bucketCacheTTL, func() time.Time { return s.now() })
	s.objects = cachingObjects{Objects: deps.Objects, cache: s.buckets}
	s.parts, _ = deps.Objects.(partRecords)
	return s, nil
}

// Handler returns the gateway's http.Handler.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.dispatch) }

// Serve serves on ln until ctx ends, then shuts down gracefully, giving
// requests in flight up to 30 seconds.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	s.mu.Lock()
	s.servers[hs] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.servers, hs)
		s.mu.Unlock()
	}()
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case err := <-done:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return errs.E("gateway.Serve", errs.Unavailable, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	err := hs.Shutdown(sctx)
	<-done
	if err != nil {
		hs.Close()
		return errs.E("gateway.Serve", errs.Unavailable, err)
	}
	return nil
}

// Close stops every Serve at once, without waiting for requests in flight.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first error
	for hs := range s.servers {
		if err := hs.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
