package control

import (
	"context"
	"log/slog"
	"sort"
	"sync/atomic"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// zapLogger returns a zap logger (what etcd wants) that writes through l,
// dropping everything below min. etcd is chatty: callers pass warn.
func zapLogger(l *slog.Logger, min zapcore.Level) *zap.Logger {
	return zap.New(newSlogCore(l, min, nil))
}

// newSlogCore builds the core; while quiet is set (a shutdown in progress),
// every entry is demoted to debug.
func newSlogCore(l *slog.Logger, min zapcore.Level, quiet *atomic.Bool) *slogCore {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	if quiet == nil {
		quiet = new(atomic.Bool)
	}
	return &slogCore{l: l, min: min, quiet: quiet}
}

// slogCore is a zapcore.Core that forwards entries to a *slog.Logger.
type slogCore struct {
	l     *slog.Logger
	min   zapcore.Level
	quiet *atomic.Bool
}

// benign reports etcd warnings that are expected for a single-node,
// plaintext, in-process etcd; they are demoted to debug.
func benign(msg string) bool {
	switch msg {
	case "Running http and grpc server on single port. This is not recommended for production.",
		"simple token is not cryptographically signed",
		"check file permission":
		return true
	}
	return false
}

// level is the slog level an entry is written at.
func (c *slogCore) level(e zapcore.Entry) slog.Level {
	if c.quiet.Load() || benign(e.Message) {
		return slog.LevelDebug
	}
	return slogLevel(e.Level)
}

func slogLevel(l zapcore.Level) slog.Level {
	switch {
	case l <= zapcore.DebugLevel:
		return slog.LevelDebug
	case l == zapcore.InfoLevel:
		return slog.LevelInfo
	case l == zapcore.WarnLevel:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}

func (c *slogCore) Enabled(l zapcore.Level) bool {
	return l >= c.min && c.l.Enabled(context.Background(), slogLevel(l))
}

func (c *slogCore) With(fields []zapcore.Field) zapcore.Core {
	attrs := fieldAttrs(fields)
	args := make([]any, len(attrs))
	for i, a := range attrs {
		args[i] = a
	}
	return &slogCore{l: c.l.With(args...), min: c.min, quiet: c.quiet}
}

func (c *slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if e.Level >= c.min && c.l.Enabled(context.Background(), c.level(e)) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	attrs := fieldAttrs(fields)
	if e.LoggerName != "" {
		attrs = append(attrs, slog.String("logger", e.LoggerName))
	}
	c.l.LogAttrs(context.Background(), c.level(e), e.Message, attrs...)
	return nil
}

func (c *slogCore) Sync() error { return nil }

// fieldAttrs turns zap fields into slog attributes, sorted by key.
func fieldAttrs(fields []zapcore.Field) []slog.Attr {
	if len(fields) == 0 {
		return nil
	}
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fields {
		f.AddTo(enc)
	}
	keys := make([]string, 0, len(enc.Fields))
	for k := range enc.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	attrs := make([]slog.Attr, 0, len(keys))
	for _, k := range keys {
		attrs = append(attrs, slog.Any(k, enc.Fields[k]))
	}
	return attrs
}
