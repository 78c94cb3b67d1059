package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/wolke-cloud/wolke/cluster"
)

// parseEC reads "k+m".
func parseEC(s string) (k, m int, err error) {
	a, b, ok := strings.Cut(s, "+")
	if ok {
		k, err = strconv.Atoi(a)
		if err == nil {
			m, err = strconv.Atoi(b)
		}
	}
	if !ok || err != nil || k < 1 || m < 0 || k+m > 256 {
		return 0, 0, fmt.Errorf("--ec %q: want DATA+PARITY, e.g. 4+2", s)
	}
	return k, m, nil
}

// parseSize reads a byte count with an optional unit: 512MiB, 16GiB, 1TiB, 4096.
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}
	mult := int64(1)
	num := strings.TrimSpace(s)
	for _, u := range units {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size like 16GiB", s)
	}
	return int64(n * float64(mult)), nil
}

func parseUser(s string) (cluster.User, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 || parts[0] == "" || len(parts[1]) < 3 || len(parts[2]) < 8 {
		return cluster.User{}, fmt.Errorf("--user %q: want NAME:ACCESS_KEY:SECRET_KEY (secret of 8 characters or more)", s)
	}
	return cluster.User{Name: parts[0], Credentials: cluster.Credentials{AccessKey: parts[1], SecretKey: parts[2]}}, nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, fmt.Errorf("--log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// teeHandler sends each record to every handler that wants its level.
type teeHandler []slog.Handler

func (t teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range t {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (t teeHandler) Handle(ctx context.Context, r slog.Record) error {
	for _, h := range t {
		if h.Enabled(ctx, r.Level) {
			if err := h.Handle(ctx, r.Clone()); err != nil {
				return err
			}
		}
	}
	return nil
}

func (t teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make(teeHandler, len(t))
	for i, h := range t {
		out[i] = h.WithAttrs(as)
	}
	return out
}

func (t teeHandler) WithGroup(name string) slog.Handler {
	out := make(teeHandler, len(t))
	for i, h := range t {
		out[i] = h.WithGroup(name)
	}
	return out
}

// defaultWriteCache is the default of --volume-write-cache and
// --write-cache: volume.DefaultWriteCache (TestParseWriteCache).
const defaultWriteCache = "256MiB"

// writeCacheHelp describes --volume-write-cache.
const writeCacheHelp = `bytes of plain NBD writes each attached volume keeps before writing them back
to its replicas; FLUSH and FUA make them stable ("0" writes every WRITE through).
A busy volume holds up to this much in memory, and a FLUSH may have to write
all of it back`

// defaultWriteCacheTotal is the default of --volume-write-cache-total and
// --write-cache-total: volume.DefaultWriteCacheTotal (TestParseWriteCache).
const defaultWriteCacheTotal = "1GiB"

// writeCacheTotalHelp describes --volume-write-cache-total.
const writeCacheTotalHelp = `bytes of write cache the volumes attached here share: with N attached, each
keeps at most this divided by N (at least 1MiB), and at most its own write cache
("0": no bound)`

// parseWriteCache parses the size a write cache flag called flag was
// given into volume.Config.WriteCache or WriteCacheTotal (negative: "0",
// no cache or no bound).
func parseWriteCache(flag, s string) (int64, error) {
	if s == "0" {
		return -1, nil
	}
	n, err := parseSize(s)
	if err != nil {
		return 0, fmt.Errorf("--%s: %w", flag, err)
	}
	if n == 0 {
		return -1, nil
	}
	if n < 64<<10 {
		return 0, fmt.Errorf("--%s: %s is below the 64KiB minimum (0 turns it off)", flag, s)
	}
	return n, nil
}
