package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/wolke-cloud/wolke/control"
)

// TestStandaloneRoles runs Wolke as a production deployment would: every
// role its own process (`wolke meta`, six `wolke chunk`, `wolke gateway`),
// finding each other through etcd. It writes objects, kills a chunk server
// with SIGKILL and reads everything back.
func TestStandaloneRoles(t *testing.T) {
	if suite.skip != "" {
		t.Skip(suite.skip)
	}
	if suite.buildErr != nil {
		t.Fatalf("%v\n%s", suite.buildErr, suite.buildOut)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	etcd, err := control.StartEmbedded(ctx, control.EmbedConfig{Dir: filepath.Join(dir, "etcd")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = etcd.Close() }) // after the role processes stop (cleanups run last-in first-out)
	eps := etcd.Endpoints()[0]
	common := []string{"--cluster", "e2e-roles", "--etcd", eps, "--log-level", "debug"}

	start := func(name string, args ...string) *exec.Cmd { return startRole(t, dir, common, name, args...) }
	port := func() string { return "127.0.0.1:" + strconv.Itoa(freePort(t)) }

	start("meta", "meta", "--id", "m1", "--dir", filepath.Join(dir, "m1"), "--bootstrap",
		"--raft-addr", port(), "--grpc-addr", port())
	chunks := make([]*exec.Cmd, 6)
	for i := range chunks {
		id := fmt.Sprintf("c%d", i)
		chunks[i] = start(id, "chunk", "--id", id, "--zone", fmt.Sprintf("z%d", i%3+1),
			"--disk", filepath.Join(dir, id, "disk0.img")+":256MiB", "--addr", port())
	}
	s3 := port()
	start("gateway", "gateway", "--addr", s3, "--root-access-key", "ROLESROOT", "--root-secret-key", "roles-secret-key")

	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + s3 + "/_wolke/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway not healthy after 60s (last: %v)", err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	mc, err := minio.New(s3, &minio.Options{Creds: credentials.NewStaticV4("ROLESROOT", "roles-secret-key", ""),
		Region: "us-east-1", BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	if err := mc.MakeBucket(ctx, "roles", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	for i, n := range []int{0, 1000, 3 << 20, 9<<20 + 5} {
		key := fmt.Sprintf("k%d", i)
		want[key] = randomBytes(n, uint64(i+1))
		if _, err := mc.PutObject(ctx, "roles", key, bytes.NewReader(want[key]), int64(n), minio.PutObjectOptions{DisableMultipart: true}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
	}
	// A chunk server dies without a word: its lease runs out, reads reconstruct.
	chunks[2].Process.Kill()
	chunks[2].Wait()
	for key, data := range want {
		r, err := mc.GetObject(ctx, "roles", key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatalf("get %s: %v", key, err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s after a chunk server died: %d bytes, err %v; want %d identical bytes", key, len(got), err, len(data))
		}
	}
}
