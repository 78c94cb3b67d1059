package control

import (
	"context"
	"log/slog"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zapcore"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// Dial connects to an etcd cluster and checks that at least one endpoint
// answers before ctx ends. The client's logs are dropped; use DialLogger to
// keep its warnings.
func Dial(ctx context.Context, endpoints []string) (*clientv3.Client, error) {
	return dial(ctx, endpoints, nil)
}

// DialLogger is Dial with the client's warnings and errors sent to l.
func DialLogger(ctx context.Context, endpoints []string, l *slog.Logger) (*clientv3.Client, error) {
	return dial(ctx, endpoints, l)
}

func dial(ctx context.Context, endpoints []string, l *slog.Logger) (*clientv3.Client, error) {
	const op = "control.Dial"
	if len(endpoints) == 0 {
		return nil, errs.E(op, errs.Invalid, "no endpoints")
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:            endpoints,
		DialTimeout:          5 * time.Second,
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 5 * time.Second,
		Logger:               zapLogger(l, zapcore.WarnLevel),
	})
	if err != nil {
		return nil, errs.E(op, errs.Unavailable, err)
	}
	var last error
	for _, ep := range endpoints {
		if _, last = cli.Status(ctx, ep); last == nil {
			return cli, nil
		}
	}
	cli.Close()
	return nil, errs.E(op, errs.Unavailable, last)
}
