package e2e

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestBenchAgainstDev runs `wolke bench s3` briefly against a real
// `wolke dev` and checks what it counted: every operation verified, no
// errors, the bytes adding up, and its objects cleared afterwards.
func TestBenchAgainstDev(t *testing.T) {
	c := StartCluster(t)
	type opStats struct {
		Op     string `json:"op"`
		Count  int    `json:"count"`
		Errors int    `json:"errors"`
		Bytes  int64  `json:"bytes"`
	}
	type result struct {
		Ops        []opStats `json:"ops"`
		ObjectSize int64     `json:"object_size"`
		Cleared    int       `json:"cleared"`
		CleanupErr string    `json:"cleanup_error"`
	}
	run := func(op string, extra ...string) result {
		args := append([]string{"bench", "s3", op, "--endpoint", c.Endpoint(),
			"--access-key", c.AccessKey, "--secret-key", c.SecretKey,
			"--bucket", "bench-e2e", "--duration", "3s", "--concurrent", "4", "--json"}, extra...)
		cmd := exec.Command(suite.bin, args...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("wolke %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		var r result
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("bench %s printed no JSON summary: %v\n%s", op, err, out)
		}
		return r
	}

	start := time.Now()
	put := run("put", "--obj.size", "256KiB")
	if len(put.Ops) != 1 || put.Ops[0].Op != "PUT" || put.Ops[0].Count == 0 || put.Ops[0].Errors != 0 {
		t.Fatalf("put run: %+v", put.Ops)
	}
	if put.Ops[0].Bytes != int64(put.Ops[0].Count)*put.ObjectSize {
		t.Fatalf("put run: %d bytes for %d objects of %d", put.Ops[0].Bytes, put.Ops[0].Count, put.ObjectSize)
	}
	if put.CleanupErr != "" || put.Cleared < put.Ops[0].Count {
		t.Fatalf("put run cleared %d of %d objects (%s)", put.Cleared, put.Ops[0].Count, put.CleanupErr)
	}

	mixed := run("mixed", "--obj.size", "64KiB", "--objects", "50")
	seen := map[string]bool{}
	for _, o := range mixed.Ops {
		if o.Errors != 0 {
			t.Errorf("mixed %s: %d errors (GETs compare content checksums)", o.Op, o.Errors)
		}
		seen[o.Op] = o.Count > 0
	}
	for _, op := range []string{"GET", "STAT", "PUT", "DELETE"} {
		if !seen[op] {
			t.Errorf("mixed run did no %s: %+v", op, mixed.Ops)
		}
	}
	t.Logf("two bench runs took %v", time.Since(start).Round(time.Millisecond))
}
