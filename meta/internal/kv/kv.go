// Package kv opens the pebble databases of a meta node with modest memory
// and a slog logger, and holds the few key helpers both stores share.
package kv

import (
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
)

// Options size a pebble database. Zero values take small defaults: a meta
// node keeps two of them and dev mode runs several nodes in one process.
type Options struct {
	CacheBytes    int64  // block cache, default 8 MiB
	MemTableBytes uint64 // memtable, default 4 MiB
	Logger        *slog.Logger
}

// Open opens (creating if needed) a pebble database in dir.
func Open(dir string, o Options) (*pebble.DB, error) {
	if o.CacheBytes <= 0 {
		o.CacheBytes = 8 << 20
	}
	if o.MemTableBytes == 0 {
		o.MemTableBytes = 4 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	cache := pebble.NewCache(o.CacheBytes)
	defer cache.Unref()
	opts := &pebble.Options{
		Cache:                       cache,
		MemTableSize:                o.MemTableBytes,
		MemTableStopWritesThreshold: 4,
		Logger:                      pebbleLogger{o.Logger},
	}
	return pebble.Open(dir, opts)
}

// pebbleLogger adapts slog to pebble's printf-style logger. Pebble's info
// messages are chatty, so they go to debug.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug("pebble", "msg", fmt.Sprintf(format, args...))
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error("pebble error", "msg", fmt.Sprintf(format, args...))
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error("pebble fatal", "msg", msg)
	panic("pebble: " + msg)
}

// PrefixEnd returns the smallest key greater than every key with prefix p,
// or nil when there is none (p is all 0xff).
func PrefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}
