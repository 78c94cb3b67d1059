package s3load

import (
	"strings"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  bool
	}{
		{"4096", 4096, false},
		{"1B", 1, false},
		{"64KiB", 64 << 10, false},
		{"1MiB", 1 << 20, false},
		{"1.5MiB", 3 << 19, false},
		{"10MB", 10e6, false},
		{"2gib", 2 << 30, false},
		{" 5 KB ", 5000, false},
		{"", 0, true},
		{"0", 0, true},
		{"-1KiB", 0, true},
		{"1.5", 0, true},
		{"MiB", 0, true},
		{"ten", 0, true},
		{"1PiB", 0, true},
	} {
		got, err := ParseSize(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestCheckEndpoint(t *testing.T) {
	for _, tc := range []struct {
		url    string
		remote bool
		want   string // "" for accepted, else part of the error
	}{
		{"http://127.0.0.1:9000", false, ""},
		{"http://localhost:9000/", false, ""},
		{"https://[::1]:9443", false, ""},
		{"http://127.8.9.10", false, ""},
		{"http://10.1.2.3:9000", false, "--allow-remote"},
		{"http://s3.amazonaws.com", false, "not loopback"},
		{"http://localhost.example.com", false, "--allow-remote"},
		{"http://10.1.2.3:9000", true, ""},
		{"", false, "--endpoint is required"},
		{"127.0.0.1:9000", false, "want a URL"},
		{"ftp://127.0.0.1", false, "want a URL"},
		{"http://127.0.0.1:9000/bucket", false, "no path"},
	} {
		err := CheckEndpoint(tc.url, tc.remote)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("CheckEndpoint(%q, %v) = %v; want %q", tc.url, tc.remote, err, tc.want)
		}
	}
}

func TestParseBenchmark(t *testing.T) {
	for _, b := range Benchmarks() {
		if got, err := ParseBenchmark(strings.ToUpper(string(b))); err != nil || got != b {
			t.Errorf("ParseBenchmark(%q) = %q, %v", b, got, err)
		}
	}
	if _, err := ParseBenchmark("gets"); err == nil || !strings.Contains(err.Error(), "put, get, mixed") {
		t.Errorf("unknown operation: %v", err)
	}
}

func TestValidate(t *testing.T) {
	valid := func() Config {
		c := Defaults()
		c.Benchmark, c.Endpoint, c.AccessKey, c.SecretKey = BenchGet, "http://127.0.0.1:9000", "a", "b"
		return c
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"valid", func(*Config) {}, ""},
		{"no keys", func(c *Config) { c.SecretKey = "" }, "--access-key and --secret-key are required"},
		{"bucket", func(c *Config) { c.Bucket = "Bad_Bucket" }, "--bucket"},
		{"short bucket", func(c *Config) { c.Bucket = "ab" }, "--bucket"},
		{"concurrency", func(c *Config) { c.Concurrent = 0 }, "--concurrent 0"},
		{"prepare writers", func(c *Config) { c.PrepareConcurrent = -1 }, "--prepare.concurrent -1"},
		{"duration", func(c *Config) { c.Duration = 0 }, "--duration"},
		{"size", func(c *Config) { c.ObjectSize = 0 }, "--obj.size"},
		{"objects", func(c *Config) { c.Objects = 0 }, "--objects 0"},
		{"list objects", func(c *Config) { c.Benchmark, c.Objects, c.Concurrent = BenchList, 3, 4 }, "one object per --concurrent"},
		{"put needs no objects", func(c *Config) { c.Benchmark, c.Objects = BenchPut, 0 }, ""},
		{"negative share", func(c *Config) { c.Benchmark, c.Distrib.Stat = BenchMixed, -1 }, "--stat-distrib -1"},
		{"no shares", func(c *Config) { c.Benchmark, c.Distrib = BenchMixed, Distribution{} }, "add up to 0"},
		{"delete only", func(c *Config) { c.Benchmark, c.Distrib = BenchMixed, Distribution{Get: 1, Delete: 1} }, "empty the object pool"},
		{"parts", func(c *Config) { c.Benchmark, c.Parts = BenchMultipart, 0 }, "--parts 0"},
		{"part size", func(c *Config) { c.Benchmark, c.PartSize = BenchMultipart, 0 }, "--part.size"},
		{"autoterm", func(c *Config) { c.AutoTerm, c.AutoTermDur = true, time.Millisecond }, "--autoterm.dur"},
		{"remote", func(c *Config) { c.Endpoint = "http://192.0.2.1" }, "--allow-remote"},
		{"benchmark", func(c *Config) { c.Benchmark = "copy" }, `unknown operation "copy"`},
	} {
		c := valid()
		tc.edit(&c)
		err := c.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: Validate() = %v; want %q", tc.name, err, tc.want)
		}
	}
}
