package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestEBSPSK serves a volume over NBD with STARTTLS and TLS-PSK required
// (wolke dev --nbd-tls-psk FILE --nbd-tls-required): qemu-img, qemu-io,
// qemu-nbd (under fio), nbdinfo and nbdcopy (libnbd) with the key get in;
// a wrong key and a client without TLS get nothing.
func TestEBSPSK(t *testing.T) {
	tools := map[string]string{}
	for _, name := range []string{"qemu-io", "qemu-img", "nbdinfo", "nbdcopy", "fio", "qemu-nbd"} {
		p, err := exec.LookPath(name)
		if err != nil {
			missingClient(t, name, err)
		}
		tools[name] = p
	}
	cli := awsCLIs(t)[0]
	work := t.TempDir()
	keyDir := filepath.Join(work, "psk")
	wrongDir := filepath.Join(work, "wrong")
	for dir, id := range map[string]string{keyDir: "alice", wrongDir: "alice"} {
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "keys.psk"), []byte(id+":"+hex.EncodeToString(key)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	keys := filepath.Join(keyDir, "keys.psk")

	c := NewCluster(t)
	c.NBDPort = freePort(t)
	c.Args = append(c.Args, "--nbd-tls-psk", keys, "--nbd-tls-required")
	c.Start()

	out := c.AWS(t, cli, time.Minute, work, "ec2", "create-volume", "--availability-zone", "z1", "--size", "1", "--output", "json")
	var v struct{ VolumeId string }
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.VolumeId == "" {
		t.Fatalf("create-volume: %v\n%s", err, out)
	}
	addr := c.nbdAddr()
	host, port, _ := net.SplitHostPort(addr)
	uri := "nbds://alice@" + addr + "/" + v.VolumeId + "?tls-psk-file=" + keys
	qemuArgs := func(dir string) []string {
		return []string{"--object", "tls-creds-psk,id=tls0,endpoint=client,dir=" + dir + ",username=alice",
			"--image-opts", "driver=nbd,host=" + host + ",port=" + port + ",export=" + v.VolumeId + ",tls-creds=tls0"}
	}

	out = c.Run(t, time.Minute, work, tools["qemu-img"], append([]string{"info", "--output=json"}, qemuArgs(keyDir)...)...)
	if !strings.Contains(out, `"virtual-size": 1073741824`) {
		t.Errorf("qemu-img info over TLS-PSK:\n%s", out)
	}
	out = c.Run(t, time.Minute, work, tools["qemu-io"], append([]string{"-c", "write -P 0x5a 8M 64k", "-c", "read -P 0x5a 8M 64k"}, qemuArgs(keyDir)...)...)
	if !strings.Contains(out, "read 65536/65536") || strings.Contains(out, "Pattern verification failed") {
		t.Errorf("qemu-io over TLS-PSK:\n%s", out)
	}
	out = c.Run(t, time.Minute, work, tools["nbdinfo"], "--json", "--no-content", uri)
	if !strings.Contains(out, `"TLS": true`) || !strings.Contains(out, `"export-size": 1073741824`) {
		t.Errorf("nbdinfo over TLS-PSK:\n%s", out)
	}

	// nbdcopy 4 MiB in at 1 MiB and back out.
	src := filepath.Join(work, "src.raw")
	data := make([]byte, 4<<20)
	_, _ = rand.Read(data)
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	c.Run(t, time.Minute, work, tools["nbdcopy"], src, uri)
	back := filepath.Join(work, "back.raw")
	c.Run(t, 2*time.Minute, work, tools["nbdcopy"], uri, back) // the whole GiB, sparse
	if got, err := os.ReadFile(back); err != nil || len(got) != 1<<30 || !bytes.Equal(got[:len(data)], data) {
		t.Errorf("nbdcopy round trip over TLS-PSK: %d bytes, %v", len(got), err)
	}
	_ = os.Remove(back)

	// fio --ioengine=nbd (and nbdfuse) cannot take this URI: libnbd 1.14
	// refuses tls-psk-file unless the program calls
	// nbd_set_uri_allow_local_file, which fio 3.33 does not. fio verifies
	// through qemu-nbd instead: plain on a local socket, TLS-PSK to wolke.
	{
		sock := filepath.Join(work, "qemu-nbd.sock")
		proxy := exec.Command(tools["qemu-nbd"], append([]string{"--socket=" + sock, "--persistent", "--shared=4", "--cache=none"}, qemuArgs(keyDir)...)...)
		var plog bytes.Buffer
		proxy.Stdout, proxy.Stderr = &plog, &plog
		if err := proxy.Start(); err != nil {
			t.Fatal(err)
		}
		var once sync.Once
		stop := func() { once.Do(func() { _ = proxy.Process.Kill(); _ = proxy.Wait() }) }
		t.Cleanup(stop)
		for i := 0; !fileExists(sock); i++ {
			if i > 100 {
				t.Fatalf("qemu-nbd did not start:\n%s", plog.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
		out = c.Run(t, 2*time.Minute, work, tools["fio"], "--name=verify", "--ioengine=nbd", "--uri=nbd+unix:///?socket="+sock,
			"--rw=randwrite", "--bs=4k-64k", "--size=8m", "--offset=64m", "--iodepth=8",
			"--verify=crc32c", "--do_verify=1", "--verify_fatal=1", "--runtime=20")
		if !strings.Contains(out, "err= 0") {
			t.Errorf("fio through qemu-nbd over TLS-PSK:\n%s", out)
		}
		stop() // it holds the volume's writer lease
	}

	// Refused: a wrong key, and plain NBD.
	if out, err := c.RunErr(t, time.Minute, work, tools["qemu-io"], append([]string{"-c", "write -P 0x66 8M 64k"}, qemuArgs(wrongDir)...)...); err == nil {
		t.Errorf("qemu-io with a wrong key was served:\n%s", out)
	}
	if out, err := c.RunErr(t, time.Minute, work, tools["nbdinfo"], "--no-content", "nbd://"+addr+"/"+v.VolumeId); err == nil {
		t.Errorf("nbdinfo without TLS was served:\n%s", out)
	}
	out = c.Run(t, time.Minute, work, tools["qemu-io"], append([]string{"-c", "read -P 0x5a 8M 64k"}, qemuArgs(keyDir)...)...)
	if strings.Contains(out, "Pattern verification failed") {
		t.Errorf("the refused writer changed the volume:\n%s", out)
	}
	if logs := c.LogTail(1 << 20); !strings.Contains(logs, "bad PSK binder") {
		t.Errorf("the log does not tell the wrong key:\n%s", clip(logs, 4<<10))
	}
}
