package nbd_test

// Tests with the real NBD clients from Debian: nbdinfo and nbdcopy
// (libnbd-bin), qemu-io and qemu-img (qemu-utils). They are required: a
// missing tool fails the test with the package to install.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/block/nbd"
	"github.com/wolke-cloud/wolke/block/nbd/nbdtest"
)

var toolPackage = map[string]string{
	"nbdinfo":  "libnbd-bin",
	"nbdcopy":  "libnbd-bin",
	"qemu-io":  "qemu-utils",
	"qemu-img": "qemu-utils",
}

func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is required: apt-get install %s (or make test-deps)", tool, toolPackage[tool])
		}
	}
}

// run runs a client and returns its stdout; it fails the test on error.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	start := time.Now()
	out, err := runErr(name, args...)
	t.Logf("%s %s: %v", name, strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func runErr(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

const volSize = 16 << 20

// fileServer serves "vol", a sparse file of 16 MiB (multi-conn), and
// "mem", an 8 MiB memory export with a description.
func fileServer(t *testing.T, cfg nbd.Config) (*harness, string, *nbdtest.File) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vol.raw")
	f, err := nbdtest.CreateFile(path, volSize)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	x := nbdtest.NewExports()
	x.Add(nbd.ExportInfo{Name: "vol", MultiConn: true}, f)
	x.Add(nbd.ExportInfo{Name: "mem", Description: "memory disk"}, nbdtest.NewMem(8<<20))
	return startServer(t, cfg, x), path, f
}

func sha(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestNbdinfo(t *testing.T) {
	requireTools(t, "nbdinfo")
	h, _, f := fileServer(t, nbd.Config{})
	uri := "nbd://" + h.addr

	list := run(t, "nbdinfo", "--list", "--json", uri)
	var l struct {
		Exports []struct {
			Name        string `json:"export-name"`
			Description string `json:"description"`
			Size        int64  `json:"export-size"`
			MinBlock    int64  `json:"block_size_minimum"`
		} `json:"exports"`
	}
	if err := json.Unmarshal([]byte(list), &l); err != nil {
		t.Fatalf("nbdinfo --list: %v\n%s", err, list)
	}
	if len(l.Exports) != 2 || l.Exports[0].Name != "mem" || l.Exports[0].Description != "memory disk" ||
		l.Exports[1].Name != "vol" || l.Exports[1].Size != volSize || l.Exports[1].MinBlock != 512 {
		t.Errorf("nbdinfo --list:\n%s", list)
	}
	plain := run(t, "nbdinfo", "--list", uri)
	if !strings.Contains(plain, `export="vol"`) {
		t.Errorf("nbdinfo --list text:\n%s", plain)
	}

	info := run(t, "nbdinfo", "--json", uri+"/vol")
	for _, want := range []string{`"can_multi_conn": true`, `"can_flush": true`, `"can_fua": true`,
		`"can_trim": true`, `"can_zero": true`, `"can_cache": true`, `"is_read_only": false`,
		`"base:allocation"`, `"block_size_preferred": 4096`, `"block_size_maximum": 33554432`} {
		if !strings.Contains(info, want) {
			t.Errorf("nbdinfo --json lacks %s:\n%s", want, info)
		}
	}

	ctx := context.Background()
	if err := f.WriteAt(ctx, bytes.Repeat([]byte{1}, 1<<20), 1<<20, false); err != nil {
		t.Fatal(err)
	}
	mapOut := run(t, "nbdinfo", "--map", "--json", uri+"/vol")
	var m []struct {
		Offset int64 `json:"offset"`
		Length int64 `json:"length"`
		Type   int   `json:"type"`
	}
	if err := json.Unmarshal([]byte(mapOut), &m); err != nil {
		t.Fatalf("nbdinfo --map: %v\n%s", err, mapOut)
	}
	want := "0+1048576:3 1048576+1048576:0 2097152+14680064:3"
	var got []string
	for _, e := range m {
		got = append(got, fmt.Sprintf("%d+%d:%d", e.Offset, e.Length, e.Type))
	}
	if strings.Join(got, " ") != want {
		t.Errorf("nbdinfo --map: %s, want %s", strings.Join(got, " "), want)
	}
}

func TestQemu(t *testing.T) {
	requireTools(t, "qemu-io", "qemu-img")
	h, path, _ := fileServer(t, nbd.Config{})
	uri := "nbd://" + h.addr + "/vol"

	out := run(t, "qemu-io", "-f", "raw", uri,
		"-c", "write -P 0xab 0 1M",
		"-c", "read -P 0xab 0 1M",
		"-c", "write -z 1M 1M",
		"-c", "discard 2M 1M",
		"-c", "flush",
		"-c", "write -f 0 4k",
		"-c", "read -P 0xcd 0 4k")
	if strings.Contains(out, "failed") || strings.Contains(out, "Pattern verification") {
		t.Fatalf("qemu-io:\n%s", out)
	}
	// write -f wrote qemu-io's default pattern 0xcd over the first 4k.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data[:4096], bytes.Repeat([]byte{0xcd}, 4096)) ||
		!bytes.Equal(data[4096:1<<20], bytes.Repeat([]byte{0xab}, 1<<20-4096)) ||
		!bytes.Equal(data[1<<20:], make([]byte, volSize-1<<20)) {
		t.Fatalf("export content after qemu-io is wrong")
	}

	info := run(t, "qemu-img", "info", "--output=json", uri)
	if !strings.Contains(info, `"virtual-size": 16777216`) {
		t.Errorf("qemu-img info:\n%s", info)
	}

	mapOut := run(t, "qemu-img", "map", "--output=json", "-f", "raw", uri)
	var m []struct {
		Start  int64 `json:"start"`
		Length int64 `json:"length"`
		Zero   bool  `json:"zero"`
		Data   bool  `json:"data"`
	}
	if err := json.Unmarshal([]byte(mapOut), &m); err != nil {
		t.Fatalf("qemu-img map: %v\n%s", err, mapOut)
	}
	// [0, 1M) is data; [1M, 2M) was zeroed with NO_HOLE (qemu-io's write
	// -z does not allow unmapping), so it may stay allocated; [2M, end) is
	// discarded or never written and must read as a zero hole.
	var end int64
	for _, e := range m {
		if e.Start != end {
			t.Fatalf("qemu-img map: gap at %d:\n%s", end, mapOut)
		}
		end = e.Start + e.Length
		switch {
		case e.Start < 1<<20 && (!e.Data || e.Zero):
			t.Errorf("qemu-img map: written data at %d reported as zero", e.Start)
		case e.Start+e.Length > 2<<20 && (e.Data || !e.Zero):
			t.Errorf("qemu-img map: hole at %d+%d reported as data", e.Start, e.Length)
		}
	}
	if end != volSize || len(m) < 2 {
		t.Errorf("qemu-img map:\n%s", mapOut)
	}

	copyPath := filepath.Join(t.TempDir(), "copy.raw")
	run(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", uri, copyPath)
	if sha(t, copyPath) != sha(t, path) {
		t.Errorf("qemu-img convert: copy differs from the export")
	}
}

func TestNbdcopy(t *testing.T) {
	requireTools(t, "nbdcopy")
	h, path, _ := fileServer(t, nbd.Config{})
	uri := "nbd://" + h.addr + "/vol"
	dir := t.TempDir()

	// A sparse source: data at 0, 5 MiB and the last 64 KiB.
	src := filepath.Join(dir, "src.raw")
	sf, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	for i, off := range []int64{0, 5 << 20, volSize - 64<<10} {
		if _, err := sf.WriteAt(bytes.Repeat([]byte{byte(0x11 * (i + 1))}, 64<<10), off); err != nil {
			t.Fatal(err)
		}
	}
	if err := sf.Truncate(volSize); err != nil {
		t.Fatal(err)
	}
	sf.Close()

	run(t, "nbdcopy", src, uri)
	if sha(t, path) != sha(t, src) {
		t.Fatal("nbdcopy to the export: content differs")
	}
	dst := filepath.Join(dir, "dst.raw")
	run(t, "nbdcopy", uri, dst)
	if sha(t, dst) != sha(t, src) {
		t.Fatal("nbdcopy from the export: content differs")
	}
	for _, p := range []string{path, dst} {
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		if st.Blocks*512 >= volSize/2 {
			t.Errorf("%s is not sparse: %d bytes allocated", filepath.Base(p), st.Blocks*512)
		}
	}
}

// TestFio runs the fio job file for a second with fio's nbd engine.
func TestFio(t *testing.T) {
	if _, err := exec.LookPath("fio"); err != nil {
		t.Fatal("fio is required: apt-get install fio")
	}
	if out, err := runErr("fio", "--enghelp=nbd"); err != nil || !strings.Contains(out, "uri") {
		t.Fatalf("fio has no nbd engine (needs fio built with libnbd): %v\n%s", err, out)
	}
	x := nbdtest.NewExports()
	x.Add(nbd.ExportInfo{Name: "vol", MultiConn: true}, nbdtest.NewMem(64<<20))
	h := startServer(t, nbd.Config{}, x)
	cmd := exec.Command("fio", "--output-format=json", "testdata/fio-4k-randrw.fio")
	cmd.Env = append(os.Environ(), "NBD_URI=nbd://"+h.addr+"/vol", "NBD_SIZE=32m", "NBD_RUNTIME=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("fio: %v\n%s", err, out)
	}
	var res struct {
		Jobs []struct {
			Error int `json:"error"`
			Read  struct {
				IOBytes int64   `json:"io_bytes"`
				IOPS    float64 `json:"iops"`
			} `json:"read"`
			Write struct {
				IOBytes int64   `json:"io_bytes"`
				IOPS    float64 `json:"iops"`
			} `json:"write"`
		} `json:"jobs"`
	}
	// The nbd engine prints "fio: connected to NBD server" before the JSON.
	if i := bytes.IndexByte(out, '{'); i > 0 {
		out = out[i:]
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res.Jobs) != 1 {
		t.Fatalf("fio output: %v\n%s", err, out)
	}
	j := res.Jobs[0]
	if j.Error != 0 || j.Read.IOBytes == 0 || j.Write.IOBytes == 0 {
		t.Fatalf("fio: error %d, read %d bytes, wrote %d bytes", j.Error, j.Read.IOBytes, j.Write.IOBytes)
	}
	t.Logf("fio 4k randrw, 1 s (not a benchmark): %.0f read IOPS, %.0f write IOPS", j.Read.IOPS, j.Write.IOPS)
}
