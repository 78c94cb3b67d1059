// Package s3load is a warp-style S3 load generator. It speaks plain S3 (path
// style, SigV4) to any endpoint, so it measures Wolke and any other S3 server
// the same way. Run drives one benchmark and returns per-operation statistics
// and, for CSV output, every operation it timed.
package s3load

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Benchmark names one of the benchmarks (the CLI's OPERATION argument).
type Benchmark string

// The benchmarks, in warp's vocabulary.
const (
	BenchPut       Benchmark = "put"
	BenchGet       Benchmark = "get"
	BenchMixed     Benchmark = "mixed"
	BenchList      Benchmark = "list"
	BenchStat      Benchmark = "stat"
	BenchDelete    Benchmark = "delete"
	BenchMultipart Benchmark = "multipart"
	BenchVersioned Benchmark = "versioned"
)

// Benchmarks lists every benchmark Run knows, in help order.
func Benchmarks() []Benchmark {
	return []Benchmark{BenchPut, BenchGet, BenchMixed, BenchList, BenchStat, BenchDelete, BenchMultipart, BenchVersioned}
}

// ParseBenchmark reads a benchmark name.
func ParseBenchmark(s string) (Benchmark, error) {
	for _, b := range Benchmarks() {
		if strings.EqualFold(s, string(b)) {
			return b, nil
		}
	}
	names := make([]string, 0, len(Benchmarks()))
	for _, b := range Benchmarks() {
		names = append(names, string(b))
	}
	return "", fmt.Errorf("unknown operation %q: want one of %s", s, strings.Join(names, ", "))
}

// Distribution is the share of each operation in the mixed benchmark, in any
// unit (they are normalised); warp's default is 45/30/15/10.
type Distribution struct {
	Get, Stat, Put, Delete float64
}

// DefaultDistribution is warp's mixed default.
func DefaultDistribution() Distribution {
	return Distribution{Get: 45, Stat: 30, Put: 15, Delete: 10}
}

// Config describes one benchmark run. Zero values take the defaults of
// Defaults; Validate reports what is wrong in the CLI's vocabulary.
type Config struct {
	Benchmark Benchmark

	Endpoint    string // http(s)://host:port, path-style
	AccessKey   string
	SecretKey   string
	Region      string
	AllowRemote bool // permit a non-loopback endpoint

	Bucket  string
	Prefix  string // prepended to every key
	NoClear bool   // keep the objects (and a bucket Run created)

	ObjectSize int64 // bytes; with RandSize the maximum
	RandSize   bool  // log-uniform sizes in [1, ObjectSize]
	Objects    int   // objects prepared for all but put and multipart
	Concurrent int
	Duration   time.Duration

	AutoTerm    bool          // stop early once throughput is stable
	AutoTermDur time.Duration // how long it must have been stable, at least

	AutoTermPct float64 // within this many percent

	Distrib Distribution // mixed and versioned

	Parts    int   // multipart: parts per object
	PartSize int64 // multipart: bytes per part

	// Progress, when set, receives a live progress line: refreshed in place
	// every second when Interactive, a new line every 5 s otherwise.
	Progress    io.Writer
	Interactive bool

	// PrepareConcurrent is how many writers prepare the objects of get,
	// stat, list, delete, mixed and versioned; 0 means Concurrent. A list
	// over many keys at low concurrency wants many writers to prepare.
	PrepareConcurrent int
	// OnMeasure, when set, is called just before the timed phase starts
	// (begin true) and just after its last operation ends (begin false):
	// preparation and cleanup fall outside, e.g. to sample a server's CPU
	// time over the timed phase only.
	OnMeasure func(begin bool)

	// HTTPClient replaces the default transport (tests, custom TLS).
	HTTPClient *http.Client
	// Seed makes object sizes and choices repeatable; 0 picks one per run.
	Seed uint64
}

// Defaults returns the configuration warp would use, for our flags' defaults.
func Defaults() Config {
	return Config{
		Region:      "us-east-1",
		Bucket:      "wolke-bench",
		ObjectSize:  10 << 20,
		Objects:     2500,
		Concurrent:  20,
		Duration:    time.Minute,
		AutoTermDur: 10 * time.Second,
		AutoTermPct: 7.5,
		Distrib:     DefaultDistribution(),
		Parts:       4,
		PartSize:    5 << 20,
	}
}

// withDefaults fills zero fields from Defaults.
func (c Config) withDefaults() Config {
	d := Defaults()
	if c.Region == "" {
		c.Region = d.Region
	}
	if c.Bucket == "" {
		c.Bucket = d.Bucket
	}
	if c.AutoTermDur == 0 {
		c.AutoTermDur = d.AutoTermDur
	}
	if c.AutoTermPct == 0 {
		c.AutoTermPct = d.AutoTermPct
	}
	if c.Distrib == (Distribution{}) {
		c.Distrib = d.Distrib
	}
	return c
}

// Validate checks the configuration; messages name the CLI flags.
func (c Config) Validate() error {
	var errs []error
	if _, err := ParseBenchmark(string(c.Benchmark)); err != nil {
		errs = append(errs, err)
	}
	if err := CheckEndpoint(c.Endpoint, c.AllowRemote); err != nil {
		errs = append(errs, err)
	}
	if c.AccessKey == "" || c.SecretKey == "" {
		errs = append(errs, errors.New("--access-key and --secret-key are required"))
	}
	if err := checkBucketName(c.Bucket); err != nil {
		errs = append(errs, err)
	}
	if c.Concurrent < 1 {
		errs = append(errs, fmt.Errorf("--concurrent %d: want at least 1", c.Concurrent))
	}
	if c.PrepareConcurrent < 0 {
		errs = append(errs, fmt.Errorf("--prepare.concurrent %d: want 0 (as --concurrent) or more", c.PrepareConcurrent))
	}
	if c.Duration <= 0 {
		errs = append(errs, fmt.Errorf("--duration %s: want a positive duration", c.Duration))
	}
	if c.ObjectSize < 1 && c.Benchmark != BenchMultipart {
		errs = append(errs, fmt.Errorf("--obj.size %d: want at least 1 byte", c.ObjectSize))
	}
	switch c.Benchmark {
	case BenchGet, BenchStat, BenchList, BenchDelete, BenchMixed, BenchVersioned:
		if c.Objects < 1 {
			errs = append(errs, fmt.Errorf("--objects %d: want at least 1", c.Objects))
		}
	}
	if c.Benchmark == BenchList && c.Objects < c.Concurrent {
		errs = append(errs, fmt.Errorf("--objects %d: list needs at least one object per --concurrent worker (%d)", c.Objects, c.Concurrent))
	}
	if c.Benchmark == BenchMixed || c.Benchmark == BenchVersioned {
		errs = append(errs, c.Distrib.validate())
	}
	if c.Benchmark == BenchMultipart {
		if c.Parts < 1 || c.Parts > 10000 {
			errs = append(errs, fmt.Errorf("--parts %d: want 1 to 10000", c.Parts))
		}
		if c.PartSize < 1 {
			errs = append(errs, fmt.Errorf("--part.size %d: want at least 1 byte", c.PartSize))
		}
	}
	if c.AutoTerm && (c.AutoTermDur < time.Second || c.AutoTermPct <= 0) {
		errs = append(errs, fmt.Errorf("--autoterm.dur %s / --autoterm.pct %g: want at least 1s and a positive percentage", c.AutoTermDur, c.AutoTermPct))
	}
	return errors.Join(errs...)
}

func (d Distribution) validate() error {
	for _, v := range []struct {
		flag string
		v    float64
	}{{"--get-distrib", d.Get}, {"--stat-distrib", d.Stat}, {"--put-distrib", d.Put}, {"--delete-distrib", d.Delete}} {
		if v.v < 0 || math.IsNaN(v.v) || math.IsInf(v.v, 0) {
			return fmt.Errorf("%s %g: want a share of 0 or more", v.flag, v.v)
		}
	}
	if d.Get+d.Stat+d.Put+d.Delete <= 0 {
		return errors.New("mixed: the --*-distrib shares add up to 0")
	}
	if d.Put == 0 && d.Delete > 0 {
		return errors.New("mixed: --delete-distrib without --put-distrib would empty the object pool")
	}
	return nil
}

// CheckEndpoint accepts an http(s) URL with a host, and refuses any host that
// is not loopback unless allowRemote: a load generator pointed at someone
// else's server by a typo is an attack.
func CheckEndpoint(endpoint string, allowRemote bool) error {
	if endpoint == "" {
		return errors.New("--endpoint is required, e.g. http://127.0.0.1:9000")
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--endpoint %q: want a URL like http://127.0.0.1:9000", endpoint)
	}
	if u.Path != "" && u.Path != "/" {
		return fmt.Errorf("--endpoint %q: want no path (buckets are addressed path-style)", endpoint)
	}
	if allowRemote || isLoopback(u.Hostname()) {
		return nil
	}
	return fmt.Errorf("--endpoint %q: host %q is not loopback; pass --allow-remote to load a remote server", endpoint, u.Hostname())
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkBucketName applies S3's bucket naming rules.
func checkBucketName(b string) error {
	ok := len(b) >= 3 && len(b) <= 63
	for i := 0; ok && i < len(b); i++ {
		c := b[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || (c == '-' || c == '.') && i > 0 && i < len(b)-1
	}
	if !ok {
		return fmt.Errorf("--bucket %q: want 3 to 63 of a-z, 0-9, '-' and '.', starting and ending with a letter or digit", b)
	}
	return nil
}

// ParseSize reads a byte count with an optional unit: 4096, 64KiB, 1MiB, 10MB.
func ParseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   float64
	}{
		{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
		{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1},
	}
	num, mult := strings.TrimSpace(s), 1.0
	for _, u := range units {
		if len(num) > len(u.suffix) && strings.EqualFold(num[len(num)-len(u.suffix):], u.suffix) {
			num, mult = strings.TrimSpace(num[:len(num)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(num, 64)
	v := n * mult
	if err != nil || math.IsNaN(v) || v < 1 || v > 1<<50 || v != math.Trunc(v) {
		return 0, fmt.Errorf("%q is not a size like 4096, 64KiB or 10MiB", s)
	}
	return int64(v), nil
}
