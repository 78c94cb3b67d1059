package gateway_test

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wolke-cloud/wolke/gateway"
	"github.com/wolke-cloud/wolke/gateway/gatewaytest"
	"github.com/wolke-cloud/wolke/iam/sigv4"
	"github.com/wolke-cloud/wolke/internal/errs"
)

var _ gateway.Objects = (*gatewaytest.Memory)(nil)

const (
	accessKey = "AKIAWOLKETEST"
	secretKey = "wolke/secret+key/EXAMPLE"
	otherKey  = "AKIAOTHERUSER"
	otherSec  = "other-secret"
	secondKey = "AKIASECONDKEY"
)

type creds map[string]string

func (c creds) Lookup(ctx context.Context, ak string) (sigv4.Credential, error) {
	s, ok := c[ak]
	if !ok {
		return sigv4.Credential{}, errs.E("test.Lookup", errs.NotFound)
	}
	user := "user-" + ak
	if ak == secondKey {
		user = "user-" + accessKey // a second key of the test user
	}
	return sigv4.Credential{AccessKey: ak, Secret: s, User: user}, nil
}

// env is a gateway on 127.0.0.1:0 over the in-memory store.
type env struct {
	url    string
	client *http.Client
	mem    *gatewaytest.Memory
	reg    *prometheus.Registry

	mu   sync.Mutex
	seen []http.Header // request headers, in order
}

type envOpts struct {
	tls    bool // serve over TLS (httptest)
	serve  bool // serve through Server.Serve on a listener, not httptest
	health func(context.Context) error
	wrap   func(*gatewaytest.Memory) gateway.Objects // optional: what the gateway sees
	domain string                                    // virtual-hosted style under this domain
}

func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	e := &env{mem: gatewaytest.NewMemory(), reg: prometheus.NewRegistry()}
	log := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var objects gateway.Objects = e.mem
	if o.wrap != nil {
		objects = o.wrap(e.mem)
	}
	srv, err := gateway.New(gateway.Config{Domain: o.domain}, gateway.Deps{
		Objects: objects, Creds: creds{accessKey: secretKey, otherKey: otherSec, secondKey: otherSec}, Health: o.health, Logger: log, Registry: e.reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	record := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			e.mu.Lock()
			h := r.Header.Clone()
			h.Set("X-Test-Host", r.Host)
			e.seen = append(e.seen, h)
			e.mu.Unlock()
			next.ServeHTTP(w, r)
		})
	}
	if !o.serve {
		ts := httptest.NewUnstartedServer(record(srv.Handler()))
		if o.tls {
			ts.StartTLS()
		} else {
			ts.Start()
		}
		t.Cleanup(ts.Close)
		e.url, e.client = ts.URL, ts.Client()
		if o.domain != "" {
			// Every "<bucket>.<domain>" resolves to the test server.
			addr := ts.Listener.Addr().String()
			_, port, _ := net.SplitHostPort(addr)
			e.url = "http://" + o.domain + ":" + port
			e.client = &http.Client{Transport: &http.Transport{
				DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, network, addr)
				},
			}}
		}
		return e
	}
	// Serve must stop cleanly when its ctx ends.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	e.url, e.client = "http://"+ln.Addr().String(), &http.Client{}
	return e
}

// headersWhere returns the headers of the last request matching pred.
func (e *env) headersWhere(pred func(http.Header) bool) http.Header {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := len(e.seen) - 1; i >= 0; i-- {
		if pred(e.seen[i]) {
			return e.seen[i]
		}
	}
	return nil
}

func (e *env) s3(t *testing.T) *s3.Client { return e.s3Style(t, true) }

func (e *env) s3Style(t *testing.T, pathStyle bool) *s3.Client {
	t.Helper()
	return s3.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		HTTPClient:  e.client,
		// What config.LoadDefaultConfig picks: CRC32 on every upload.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	}, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(e.url)
		o.UsePathStyle = pathStyle
		o.RetryMaxAttempts = 1
		o.DisableLogOutputChecksumValidationSkipped = true
	})
}

// code returns the S3 error code of an SDK error.
func code(err error) string {
	var ae interface{ ErrorCode() string }
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func status(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func md5b64(b []byte) string {
	s := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(s[:])
}
