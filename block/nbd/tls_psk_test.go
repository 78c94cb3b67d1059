package nbd_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wolke-cloud/wolke/block/nbd"
)

// pskFiles writes keys.psk (identity alice) in a directory, the layout
// qemu's tls-creds-psk reads and the file libnbd's tls-psk-file reads. It
// returns the directory, the file and the server's key map.
func pskFiles(t *testing.T, key []byte) (dir, file string, keys map[string][]byte) {
	t.Helper()
	dir = t.TempDir()
	file = filepath.Join(dir, "keys.psk")
	if err := os.WriteFile(file, []byte("alice:"+hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keys, err := nbd.LoadPSKFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return dir, file, keys
}

func randomKey(t *testing.T) []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func qemuPSKArgs(dir, addr, export string) []string {
	host, port, _ := net.SplitHostPort(addr)
	return []string{"--object", "tls-creds-psk,id=tls0,endpoint=client,dir=" + dir + ",username=alice",
		"--image-opts", "driver=nbd,host=" + host + ",port=" + port + ",export=" + export + ",tls-creds=tls0"}
}

func TestPSKClients(t *testing.T) {
	requireTools(t, "nbdinfo", "nbdcopy", "qemu-img", "qemu-io")
	dir, file, keys := pskFiles(t, randomKey(t))
	h, path, _ := fileServer(t, nbd.Config{PSK: keys, TLSRequired: true})

	out := run(t, "qemu-img", append([]string{"info", "--output=json"}, qemuPSKArgs(dir, h.addr, "vol")...)...)
	if !strings.Contains(out, `"virtual-size": 16777216`) {
		t.Errorf("qemu-img info over TLS-PSK:\n%s", out)
	}
	out = run(t, "qemu-io", append([]string{"-c", "write -P 0x5a 0 64k", "-c", "read -P 0x5a 0 64k"},
		qemuPSKArgs(dir, h.addr, "vol")...)...)
	if !strings.Contains(out, "read 65536/65536") || strings.Contains(out, "Pattern verification failed") {
		t.Errorf("qemu-io over TLS-PSK:\n%s", out)
	}
	disk, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(disk[:64<<10], bytes.Repeat([]byte{0x5a}, 64<<10)) {
		t.Errorf("qemu-io's write over TLS-PSK did not reach the export")
	}

	uri := "nbds://alice@" + h.addr + "/vol?tls-psk-file=" + file
	out = run(t, "nbdinfo", "--json", "--no-content", uri)
	if !strings.Contains(out, `"export-size": 16777216`) || !strings.Contains(out, `"TLS": true`) {
		t.Errorf("nbdinfo over TLS-PSK:\n%s", out)
	}

	// nbdcopy both ways, 4 MiB of random data (several 16 KiB records per
	// request, in flight on several connections).
	src := filepath.Join(t.TempDir(), "src.raw")
	data := make([]byte, 4<<20)
	_, _ = rand.Read(data)
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, "nbdcopy", src, uri)
	back := filepath.Join(t.TempDir(), "back.raw")
	run(t, "nbdcopy", uri, back)
	got, err := os.ReadFile(back)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != volSize || !bytes.Equal(got[:len(data)], data) {
		t.Fatalf("nbdcopy round trip over TLS-PSK: %d bytes, data equal %v", len(got), bytes.Equal(got[:min(len(got), len(data))], data))
	}

	// Without TLS, a TLS-only server serves nothing.
	if out, err := runErr("nbdinfo", "--no-content", "nbd://"+h.addr+"/vol"); err == nil {
		t.Errorf("nbdinfo without TLS succeeded against a TLS-only server:\n%s", out)
	}
}

func TestPSKRefused(t *testing.T) {
	requireTools(t, "nbdinfo", "qemu-io")
	_, _, keys := pskFiles(t, randomKey(t))
	h, path, _ := fileServer(t, nbd.Config{PSK: keys, TLSRequired: true})
	before := sha(t, path)

	wrongDir, wrongFile, _ := pskFiles(t, randomKey(t))
	out, err := runErr("qemu-io", append([]string{"-c", "write -P 0x66 0 64k"}, qemuPSKArgs(wrongDir, h.addr, "vol")...)...)
	if err == nil || strings.Contains(out, "wrote 65536") {
		t.Errorf("qemu-io with a wrong key was served:\n%s", out)
	}
	if out, err := runErr("nbdinfo", "--no-content", "nbds://alice@"+h.addr+"/vol?tls-psk-file="+wrongFile); err == nil {
		t.Errorf("nbdinfo with a wrong key was served:\n%s", out)
	}
	// An identity the server does not know.
	other := filepath.Join(t.TempDir(), "keys.psk")
	if err := os.WriteFile(other, []byte("mallory:"+hex.EncodeToString(keys["alice"])+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := runErr("nbdinfo", "--no-content", "nbds://mallory@"+h.addr+"/vol?tls-psk-file="+other); err == nil {
		t.Errorf("nbdinfo with an unknown identity was served:\n%s", out)
	}
	if after := sha(t, path); after != before {
		t.Errorf("the export changed under refused clients")
	}
	logs := h.logs.String()
	for _, want := range []string{"bad PSK binder", "unknown PSK identity", "nbd handshake failed"} {
		if !strings.Contains(logs, want) {
			t.Errorf("server log lacks %q:\n%s", want, logs)
		}
	}
}

// TestPSKAndCertificates: one server with both; each client gets its kind.
func TestPSKAndCertificates(t *testing.T) {
	requireTools(t, "nbdinfo")
	certDir, srvTLS, _ := testPKI(t)
	_, file, keys := pskFiles(t, randomKey(t))
	h, _, _ := fileServer(t, nbd.Config{TLS: srvTLS, PSK: keys, TLSRequired: true})
	for name, uri := range map[string]string{
		"certificates": "nbds://" + h.addr + "/vol?tls-certificates=" + certDir,
		"psk":          "nbds://alice@" + h.addr + "/vol?tls-psk-file=" + file,
	} {
		if out := run(t, "nbdinfo", "--json", "--no-content", uri); !strings.Contains(out, `"export-size": 16777216`) {
			t.Errorf("nbdinfo with %s:\n%s", name, out)
		}
	}
}

func TestLoadPSKFile(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"empty":      "",
		"no colon":   "alice\n",
		"not hex":    "alice:zz\n",
		"short key":  "alice:00112233\n",
		"repeated":   "alice:00112233445566778899aabbccddeeff\nalice:00112233445566778899aabbccddeeff\n",
		"empty name": ":00112233445566778899aabbccddeeff\n",
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := nbd.LoadPSKFile(p); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
	p := filepath.Join(dir, "ok")
	_ = os.WriteFile(p, []byte("# psktool\nalice:00112233445566778899aabbccddeeff\n\nbob:"+strings.Repeat("ab", 32)+"\n"), 0o600)
	keys, err := nbd.LoadPSKFile(p)
	if err != nil || len(keys) != 2 || len(keys["bob"]) != 32 {
		t.Fatalf("LoadPSKFile: %v %v", keys, err)
	}
	if _, err := nbd.New(nbd.Config{PSK: map[string][]byte{}}, nbd.Deps{Exports: testExports()}); err == nil {
		t.Errorf("an empty PSK map was accepted")
	}
}
