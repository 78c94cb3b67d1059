package control

import (
	"bytes"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func TestZapThroughSlog(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	quiet := new(atomic.Bool)
	z := zap.New(newSlogCore(l, zapcore.WarnLevel, quiet)).Named("etcd").With(zap.String("member", "m1"))

	z.Info("chatty info")
	z.Warn("disk slow", zap.Int("ms", 1500), zap.String("path", "/x"))
	z.Warn("simple token is not cryptographically signed")
	quiet.Store(true)
	z.Error("server closed")

	out := buf.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3:\n%s", len(lines), out)
	}
	for _, want := range []string{"level=WARN", `msg="disk slow"`, "member=m1", "ms=1500", "path=/x", "logger=etcd"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("line %q lacks %q", lines[0], want)
		}
	}
	if !strings.Contains(lines[1], "level=DEBUG") {
		t.Errorf("benign warning not demoted: %q", lines[1])
	}
	if !strings.Contains(lines[2], "level=DEBUG") || !strings.Contains(lines[2], "server closed") {
		t.Errorf("error during shutdown not demoted: %q", lines[2])
	}
	if strings.Contains(out, "chatty info") {
		t.Errorf("info below the minimum leaked: %s", out)
	}
}

func TestZapLoggerNilDiscards(t *testing.T) {
	t.Parallel()
	z := zapLogger(nil, zapcore.WarnLevel)
	if z.Core().Enabled(zapcore.ErrorLevel) {
		t.Fatal("nil logger should discard everything")
	}
	z.Error("nobody hears this")
}
