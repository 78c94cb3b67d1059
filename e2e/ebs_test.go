package e2e

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEBS drives block volumes end to end: the EC2 API with aws-cli v1
// and v2, the NBD export with qemu-io, qemu-img, nbdinfo, nbdcopy, fio
// and nbdfuse (ext4 on a loop device), snapshots, online growth, the
// single-writer rule, and data kept across a restart of wolke dev and
// (what was flushed) across a kill -9.
func TestEBS(t *testing.T) {
	tools := map[string]string{}
	for _, name := range []string{"qemu-io", "qemu-img", "nbdinfo", "nbdcopy", "nbdfuse", "fio", "losetup", "mkfs.ext4", "e2fsck", "mount", "umount"} {
		p, err := exec.LookPath(name)
		if err != nil {
			missingClient(t, name, err)
		}
		tools[name] = p
	}
	clis := awsCLIs(t)
	c := NewCluster(t)
	c.NBDPort = freePort(t)
	c.Start()
	work := t.TempDir()
	nbdURI := func(name string) string { return "nbd://" + c.nbdAddr() + "/" + name }
	ec2 := func(t *testing.T, cli awsCLI, args ...string) map[string]any {
		t.Helper()
		out := c.AWS(t, cli, time.Minute, work, append(append([]string{"ec2"}, args...), "--output", "json")...)
		m := map[string]any{}
		if strings.TrimSpace(out) != "" {
			if err := json.Unmarshal([]byte(out), &m); err != nil {
				t.Fatalf("aws ec2 %s: %v\n%s", args[0], err, out)
			}
		}
		return m
	}
	qemuIO := func(t *testing.T, uri string, cmds ...string) string {
		t.Helper()
		args := []string{"-f", "raw"}
		if strings.Contains(uri, "/snap-") {
			args = append(args, "-r") // snapshots are read-only exports
		}
		for _, cmd := range cmds {
			args = append(args, "-c", cmd)
		}
		out := c.Run(t, 2*time.Minute, work, tools["qemu-io"], append(args, uri)...)
		if strings.Contains(out, "Pattern verification failed") || strings.Contains(out, "failed:") {
			t.Fatalf("qemu-io %v:\n%s", cmds, out)
		}
		return out
	}

	// The API with both CLIs: zones, create, describe, delete.
	var vol string
	for _, cli := range clis {
		t.Run("api-"+cli.name, func(t *testing.T) {
			zones := ec2(t, cli, "describe-availability-zones")
			if az, _ := zones["AvailabilityZones"].([]any); len(az) != 3 {
				t.Fatalf("zones: %v", zones)
			}
			v := ec2(t, cli, "create-volume", "--availability-zone", "z2", "--size", "1")
			id, _ := v["VolumeId"].(string)
			if !strings.HasPrefix(id, "vol-") || len(id) != 21 || v["Size"] != 1.0 {
				t.Fatalf("create-volume: %v", v)
			}
			d := ec2(t, cli, "describe-volumes", "--filters", "Name=volume-id,Values="+id)
			if vs, _ := d["Volumes"].([]any); len(vs) != 1 || vs[0].(map[string]any)["State"] != "available" {
				t.Fatalf("describe-volumes: %v", d)
			}
			if _, err := c.AWSErr(t, cli, time.Minute, work, "ec2", "describe-volumes", "--volume-ids", "vol-0123456789abcdef0"); err == nil {
				t.Error("describe of a missing volume succeeded")
			}
			if vol == "" {
				vol = id
				return
			}
			ec2(t, cli, "delete-volume", "--volume-id", id)
		})
	}
	if vol == "" {
		t.Fatal("no volume")
	}
	v2 := clis[len(clis)-1]
	uri := nbdURI(vol)

	t.Run("qemu", func(t *testing.T) {
		qemuIO(t, uri,
			"write -P 0xab 0 3M", "read -P 0xab 0 3M",
			"discard 1M 1M", "read -P 0 1M 1M",
			"write -z 2M 512k", "read -P 0 2M 512k", "read -P 0xab 2560k 512k",
			"write -P 0x5c 4095k 2k", "flush", "read -P 0x5c 4095k 2k")
		info := c.Run(t, time.Minute, work, tools["qemu-img"], "info", "--output=json", uri)
		if !strings.Contains(info, `"virtual-size": 1073741824`) {
			t.Errorf("qemu-img info:\n%s", info)
		}
		var m []struct {
			Start, Length int64
			Data, Zero    bool
		}
		out := c.Run(t, time.Minute, work, tools["qemu-img"], "map", "--output=json", uri)
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("qemu-img map: %v\n%s", err, out)
		}
		if len(m) < 3 || !m[0].Data || m[0].Length != 1<<20 || m[1].Data || !m[1].Zero {
			t.Errorf("qemu-img map: the trimmed megabyte is not a hole: %s", out)
		}
		list := c.Run(t, time.Minute, work, tools["nbdinfo"], "--list", "nbd://"+c.nbdAddr())
		if !strings.Contains(list, vol) {
			t.Errorf("nbdinfo --list does not show %s:\n%s", vol, list)
		}
	})

	t.Run("nbdcopy", func(t *testing.T) {
		src := filepath.Join(work, "src.img")
		data := make([]byte, 8<<20)
		rnd := rand.NewChaCha8([32]byte{7})
		rnd.Read(data)
		if err := os.WriteFile(src, data, 0o644); err != nil {
			t.Fatal(err)
		}
		v := ec2(t, v2, "create-volume", "--availability-zone", "z1", "--size", "1")
		id := v["VolumeId"].(string)
		c.Run(t, 2*time.Minute, work, tools["nbdcopy"], src, nbdURI(id))
		back := filepath.Join(work, "back.img")
		c.Run(t, 2*time.Minute, work, tools["nbdcopy"], nbdURI(id), back)
		got, err := os.ReadFile(back)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1<<30 || !bytes.Equal(got[:len(data)], data) || !bytes.Equal(got[len(data):len(data)+4096], make([]byte, 4096)) {
			t.Errorf("nbdcopy round trip differs (%d bytes back)", len(got))
		}
		os.Remove(back)
	})

	// An st1 volume stores extents written whole erasure coded (4+2 in
	// wolke dev) and copies one to replicas at its first partial write.
	t.Run("st1", func(t *testing.T) {
		v := ec2(t, v2, "create-volume", "--availability-zone", "z2", "--size", "1", "--volume-type", "st1")
		id := v["VolumeId"].(string)
		if v["VolumeType"] != "st1" {
			t.Errorf("create-volume st1: %v", v)
		}
		src := filepath.Join(work, "st1.img")
		data := make([]byte, 8<<20)
		rand.NewChaCha8([32]byte{9}).Read(data)
		if err := os.WriteFile(src, data, 0o644); err != nil {
			t.Fatal(err)
		}
		c.Run(t, 2*time.Minute, work, tools["nbdcopy"], src, nbdURI(id))
		qemuIO(t, nbdURI(id), "write -P 0x5a 3m 4k", "write -P 0x5b 5m 1m", "flush")
		copy(data[3<<20:], bytes.Repeat([]byte{0x5a}, 4096))
		copy(data[5<<20:], bytes.Repeat([]byte{0x5b}, 1<<20))
		back := filepath.Join(work, "st1-back.img")
		c.Run(t, 2*time.Minute, work, tools["nbdcopy"], nbdURI(id), back)
		got, err := os.ReadFile(back)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1<<30 || !bytes.Equal(got[:len(data)], data) {
			t.Errorf("st1 volume reads back other bytes (%d bytes back)", len(got))
		}
		os.Remove(back)
		out := c.Run(t, 2*time.Minute, work, tools["fio"], "--name=verify", "--ioengine=nbd", "--uri="+nbdURI(id),
			"--rw=write", "--bs=1m", "--size=16m", "--offset=64m", "--iodepth=4",
			"--verify=crc32c", "--do_verify=1", "--verify_fatal=1")
		if !strings.Contains(out, "err= 0") {
			t.Errorf("fio on st1:\n%s", out)
		}
		if _, err := c.AWSErr(t, v2, time.Minute, work, "ec2", "create-volume", "--availability-zone", "z1", "--size", "1", "--volume-type", "tape"); err == nil {
			t.Error("create-volume took volume type tape")
		}
		ec2(t, v2, "delete-volume", "--volume-id", id)
	})

	t.Run("fio", func(t *testing.T) {
		out := c.Run(t, 2*time.Minute, work, tools["fio"], "--name=verify", "--ioengine=nbd", "--uri="+uri,
			"--rw=randwrite", "--bs=64k", "--size=8m", "--offset=64m", "--iodepth=4",
			"--verify=crc32c", "--do_verify=1", "--verify_fatal=1", "--runtime=20")
		if !strings.Contains(out, "err= 0") {
			t.Errorf("fio:\n%s", out)
		}
	})

	t.Run("snapshot", func(t *testing.T) {
		s := ec2(t, v2, "create-snapshot", "--volume-id", vol, "--description", "before")
		sid, _ := s["SnapshotId"].(string)
		if !strings.HasPrefix(sid, "snap-") {
			t.Fatalf("create-snapshot: %v", s)
		}
		qemuIO(t, uri, "write -P 0xcd 0 1M", "write -P 0xcd 2560k 4k")
		clone := ec2(t, v2, "create-volume", "--availability-zone", "z3", "--snapshot-id", sid)["VolumeId"].(string)
		qemuIO(t, nbdURI(clone), "read -P 0xab 0 1M", "read -P 0 1M 1M", "read -P 0xab 2560k 4k")
		qemuIO(t, nbdURI(sid), "read -P 0xab 0 1M")
		qemuIO(t, uri, "read -P 0xcd 0 1M", "read -P 0xcd 2560k 4k")
		// The blocks that changed between two snapshots (EBS direct APIs).
		sid2, _ := ec2(t, v2, "create-snapshot", "--volume-id", vol)["SnapshotId"].(string)
		ebsDirect(t, c, clis, work, sid, sid2)
		ds := ec2(t, clis[0], "describe-snapshots", "--owner-ids", "self")
		if ss, _ := ds["Snapshots"].([]any); len(ss) != 2 {
			t.Errorf("describe-snapshots: %v", ds)
		}
		ec2(t, v2, "delete-volume", "--volume-id", clone)
		ec2(t, v2, "delete-snapshot", "--snapshot-id", sid)
		ec2(t, v2, "delete-snapshot", "--snapshot-id", sid2)
		// The volume lost nothing when its snapshot and clone went.
		qemuIO(t, uri, "read -P 0xcd 0 1M", "read -P 0 2M 512k", "read -P 0xab 2564k 508k")
	})

	t.Run("grow", func(t *testing.T) {
		ec2(t, v2, "modify-volume", "--volume-id", vol, "--size", "2")
		info := c.Run(t, time.Minute, work, tools["qemu-img"], "info", "--output=json", uri)
		if !strings.Contains(info, `"virtual-size": 2147483648`) {
			t.Errorf("after modify-volume: %s", info)
		}
		qemuIO(t, uri, "write -P 0x77 1536M 1M", "read -P 0x77 1536M 1M", "read -P 0xcd 0 1M")
	})

	t.Run("single-writer", func(t *testing.T) {
		// qemu-io reading commands from a pipe holds the export open.
		holder := exec.Command(tools["qemu-io"], "-f", "raw", uri)
		holder.Env = c.env
		stdin, err := holder.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := holder.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			stdin.Close()
			holder.Wait()
		}()
		deadline := time.Now().Add(30 * time.Second)
		for {
			d := ec2(t, v2, "describe-volumes", "--volume-ids", vol)
			if d["Volumes"].([]any)[0].(map[string]any)["State"] == "in-use" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("volume never in-use while attached: %v", d)
			}
			time.Sleep(200 * time.Millisecond)
		}
		out, err := c.RunErr(t, time.Minute, work, tools["qemu-io"], "-f", "raw", "-c", "write 0 4k", uri)
		if err == nil || !strings.Contains(out, "in use") {
			t.Errorf("second writer was not refused (%v):\n%s", err, out)
		}
		if _, err := c.AWSErr(t, v2, time.Minute, work, "ec2", "delete-volume", "--volume-id", vol); err == nil {
			t.Error("an attached volume was deleted")
		}
	})

	t.Run("ext4", func(t *testing.T) { ebsExt4(t, c, tools, work, uri) })

	t.Run("kill9", func(t *testing.T) {
		v := ec2(t, v2, "create-volume", "--availability-zone", "z1", "--size", "1")["VolumeId"].(string)
		ebsKill9(t, c, tools["qemu-io"], work, v)
	})
}

// ebsExt4 makes an ext4 file system on the volume through nbdfuse and a
// loop device, writes a file, restarts wolke dev and checks the file and
// the file system.
func ebsExt4(t *testing.T, c *Cluster, tools map[string]string, work, uri string) {
	mnt := filepath.Join(work, "fuse")
	fsDir := filepath.Join(work, "fs")
	for _, d := range []string{mnt, fsDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	attach := func() (dev string, detach func()) {
		t.Helper()
		pidFile := filepath.Join(work, "nbdfuse.pid")
		os.Remove(pidFile)
		fuse := exec.Command(tools["nbdfuse"], "-P", pidFile, mnt+"/disk", uri)
		fuse.Env = c.env
		var log bytes.Buffer
		fuse.Stdout, fuse.Stderr = &log, &log
		if err := fuse.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { fuse.Wait(); close(exited) }()
		for i := 0; !fileExists(pidFile); i++ {
			if i > 300 {
				t.Fatalf("nbdfuse did not start:\n%s", log.String())
			}
			select {
			case <-exited:
				t.Fatalf("nbdfuse exited:\n%s", log.String())
			case <-time.After(100 * time.Millisecond):
			}
		}
		dev = strings.TrimSpace(c.Run(t, time.Minute, work, tools["losetup"], "--find", "--show", mnt+"/disk"))
		return dev, func() {
			c.RunErr(t, time.Minute, work, tools["losetup"], "-d", dev)
			c.RunErr(t, time.Minute, work, tools["umount"], mnt) // root: no fusermount needed
			select {
			case <-exited:
			case <-time.After(30 * time.Second):
				fuse.Process.Kill()
				<-exited
			}
		}
	}
	dev, detach := attach()
	c.Run(t, 3*time.Minute, work, tools["mkfs.ext4"], "-q", "-F", "-E", "nodiscard", dev)
	c.Run(t, time.Minute, work, tools["mount"], dev, fsDir)
	payload := []byte(strings.Repeat("wolke ebs ext4 ", 70000))
	if err := os.WriteFile(filepath.Join(fsDir, "hello.txt"), payload, 0o644); err != nil {
		t.Fatal(err)
	}
	c.Run(t, time.Minute, work, tools["umount"], fsDir)
	detach()

	c.Restart()

	dev, detach = attach()
	defer detach()
	out := c.Run(t, 3*time.Minute, work, tools["e2fsck"], "-f", "-n", dev)
	t.Logf("e2fsck: %s", clip(out, 2000))
	c.Run(t, time.Minute, work, tools["mount"], "-o", "ro", dev, fsDir)
	got, err := os.ReadFile(filepath.Join(fsDir, "hello.txt"))
	c.RunErr(t, time.Minute, work, tools["umount"], fsDir)
	if err != nil || !bytes.Equal(got, payload) {
		t.Errorf("file after restart: %d bytes, %v (want %d)", len(got), err, len(payload))
	}
}
