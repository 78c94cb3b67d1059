package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/control"
)

// TestBlockRole serves volumes with `wolke block` next to `wolke meta`,
// three `wolke chunk` and `wolke gateway`, each its own process: a volume
// made with aws ec2 create-volume is written with qemu-io, the block
// server dies with SIGKILL, and after a restart the data reads back once
// the dead server's attach lease has run out (--lease-ttl, 15s default).
func TestBlockRole(t *testing.T) {
	if suite.skip != "" {
		t.Skip(suite.skip)
	}
	if suite.buildErr != nil {
		t.Fatalf("%v\n%s", suite.buildErr, suite.buildOut)
	}
	tools := map[string]string{}
	for _, name := range []string{"qemu-io", "nbdinfo"} {
		p, err := exec.LookPath(name)
		if err != nil {
			missingClient(t, name, err)
		}
		tools[name] = p
	}
	clis := awsCLIs(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	etcd, err := control.StartEmbedded(ctx, control.EmbedConfig{Dir: filepath.Join(dir, "etcd")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { etcd.Close() }) // after the processes (cleanups run last first)
	common := []string{"--cluster", "e2e-block", "--etcd", etcd.Endpoints()[0], "--log-level", "debug"}
	start := func(name string, args ...string) *exec.Cmd { return startRole(t, dir, common, name, args...) }
	port := func() int { return freePort(t) }
	addr := func(p int) string { return "127.0.0.1:" + strconv.Itoa(p) }

	start("meta", "meta", "--id", "m1", "--dir", filepath.Join(dir, "m1"), "--bootstrap",
		"--raft-addr", addr(port()), "--grpc-addr", addr(port()))
	for i := range 3 {
		id := "c" + strconv.Itoa(i)
		start(id, "chunk", "--id", id, "--zone", "z"+strconv.Itoa(i+1),
			"--disk", filepath.Join(dir, id, "disk0.img")+":256MiB", "--addr", addr(port()))
	}
	// The gateway serves the EC2 API; c is only the aws-cli runner.
	c := &Cluster{Port: port(), AccessKey: "BLOCKROOT", SecretKey: "block-role-secret", home: t.TempDir()}
	c.env = c.clientEnv(t)
	start("gateway", "gateway", "--addr", c.Addr(), "--root-access-key", c.AccessKey, "--root-secret-key", c.SecretKey, "--ec", "2+1")
	nbdAddr := addr(port())
	block := start("block", "block", "--addr", nbdAddr, "--id", "b1")
	waitUp(t, "gateway", 60*time.Second, func() bool {
		resp, err := http.Get(c.Endpoint() + "/_wolke/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	work := t.TempDir()
	out := c.AWS(t, clis[len(clis)-1], time.Minute, work, "ec2", "create-volume",
		"--availability-zone", "z1", "--size", "1", "--output", "json")
	var v struct{ VolumeId string }
	if err := json.Unmarshal([]byte(out), &v); err != nil || !strings.HasPrefix(v.VolumeId, "vol-") {
		t.Fatalf("create-volume: %v\n%s", err, out)
	}
	uri := "nbd://" + nbdAddr + "/" + v.VolumeId
	waitUp(t, "block server", 30*time.Second, func() bool {
		_, err := c.RunErr(t, 10*time.Second, work, tools["nbdinfo"], "--list", "nbd://"+nbdAddr)
		return err == nil
	})
	if list := c.Run(t, 30*time.Second, work, tools["nbdinfo"], "--list", "nbd://"+nbdAddr); !strings.Contains(list, v.VolumeId) {
		t.Fatalf("nbdinfo --list does not show %s:\n%s", v.VolumeId, list)
	}
	qemuIO := func(cmds ...string) (string, error) {
		args := []string{"-f", "raw"}
		for _, c := range cmds {
			args = append(args, "-c", c)
		}
		out, err := c.RunErr(t, time.Minute, work, tools["qemu-io"], append(args, uri)...)
		if err == nil && (strings.Contains(out, "Pattern verification failed") || strings.Contains(out, "failed:")) {
			err = errFailed
		}
		return out, err
	}
	if out, err := qemuIO("write -P 0x5a 0 4M", "flush"); err != nil {
		t.Fatalf("qemu-io write: %v\n%s", err, out)
	}
	// The gateway reads snapshots itself for the EBS direct APIs.
	snapBlockViaGateway(t, c, clis[0], work, v.VolumeId, bytes.Repeat([]byte{0x5a}, 512<<10))

	// Kill -9 while a client holds the volume: its lease stays in meta
	// until it runs out; the restarted server refuses the writable open
	// until then, and serves it after.
	holder := exec.Command(tools["qemu-io"], "-f", "raw", "-c", "write -P 0x5a 4M 4k", "-c", "sleep 60000", uri)
	holder.Env = c.env
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { holder.Process.Kill(); holder.Wait() }()
	time.Sleep(2 * time.Second) // attached and written
	block.Process.Kill()
	block.Wait()
	killed := time.Now()
	block = start("block2", "block", "--addr", nbdAddr, "--id", "b1")
	var refused string
	var got string
	for {
		out, err := qemuIO("read -P 0x5a 0 4M")
		if err == nil {
			got = out
			break
		}
		if strings.Contains(out, "Denied by server") { // NBD_REP_ERR_POLICY: attached elsewhere
			refused = out
		}
		if time.Since(killed) > 30*time.Second {
			t.Fatalf("volume not readable 30s after its server died: %v\n%s", err, out)
		}
		time.Sleep(time.Second)
	}
	t.Logf("volume attached again %v after kill -9 (lease ttl 15s); refusal meanwhile:\n%s", time.Since(killed).Round(100*time.Millisecond), refused)
	if !strings.Contains(got, "read 4194304/4194304 bytes") {
		t.Fatalf("qemu-io read:\n%s", got)
	}
	if refused == "" {
		t.Errorf("the restarted server never refused the volume while the dead server's lease held it")
	}

	// SIGTERM with a client attached: the server flushes the client's
	// write and releases the lease, so a new server attaches it at once.
	holder2 := exec.Command(tools["qemu-io"], "-f", "raw", "-c", "write -P 0xa5 8M 4k", "-c", "sleep 60000", uri)
	holder2.Env = c.env
	if err := holder2.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { holder2.Process.Kill(); holder2.Wait() }()
	time.Sleep(2 * time.Second)
	termAt := time.Now()
	block.Process.Signal(syscall.SIGTERM)
	exited := make(chan error, 1)
	go func() { exited <- block.Wait() }()
	select {
	case err := <-exited:
		t.Logf("block server stopped %v after SIGTERM (exit: %v)", time.Since(termAt).Round(100*time.Millisecond), err)
	case <-time.After(20 * time.Second):
		t.Fatal("block server did not stop within 20s of SIGTERM")
	}
	// The new server requires TLS-PSK (flags as on wolke dev).
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	keyDir := filepath.Join(work, "psk")
	if err := os.MkdirAll(keyDir, 0o700); err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(keyDir, "keys.psk")
	if err := os.WriteFile(keys, []byte("alice:"+hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	start("block3", "block", "--addr", nbdAddr, "--id", "b1", "--nbd-tls-psk", keys, "--nbd-tls-required")
	host, nbdPort, _ := net.SplitHostPort(nbdAddr)
	pskArgs := []string{"--object", "tls-creds-psk,id=tls0,endpoint=client,dir=" + keyDir + ",username=alice",
		"--image-opts", "driver=nbd,host=" + host + ",port=" + nbdPort + ",export=" + v.VolumeId + ",tls-creds=tls0",
		"-c", "read -P 0x5a 0 4M", "-c", "read -P 0xa5 8M 4k"}
	for restarted := time.Now(); ; {
		out, err := c.RunErr(t, time.Minute, work, tools["qemu-io"], pskArgs...)
		if err == nil && strings.Contains(out, "read 4096/4096") && !strings.Contains(out, "Pattern verification failed") {
			break
		}
		if strings.Contains(out, "Denied by server") {
			t.Fatalf("a gracefully stopped server left its lease behind:\n%s", out)
		}
		if time.Since(restarted) > 10*time.Second {
			t.Fatalf("volume not served over TLS-PSK 10s after a restart: %v\n%s", err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if out, err := c.RunErr(t, 30*time.Second, work, tools["nbdinfo"], "--list", "nbd://"+nbdAddr); err == nil {
		t.Errorf("--nbd-tls-required served a plain client:\n%s", out)
	}
	if log, _ := os.ReadFile(filepath.Join(dir, "block3.log")); !strings.Contains(string(log), "nbds://"+nbdAddr+"/vol-... (TLS required)") {
		t.Errorf("block3 startup line:\n%s", log)
	}
}

var errFailed = errorString("qemu-io reported a failed command")

type errorString string

func (e errorString) Error() string { return string(e) }

// waitUp polls ok every 200ms until it holds or d passes.
func waitUp(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s not up after %v", what, d)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
