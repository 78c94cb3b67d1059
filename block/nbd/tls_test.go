package nbd_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/block/nbd"
)

// testPKI makes a CA and a server certificate for 127.0.0.1. It writes
// ca-cert.pem into a directory (the layout libnbd and qemu read) and
// returns the directory, the server's TLS config and a client config
// trusting the CA.
func testPKI(t *testing.T) (dir string, server, client *tls.Config) {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey, srvKey := key(), key()
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "wolke test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	if err := os.WriteFile(filepath.Join(dir, "ca-cert.pem"), caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	server = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{srvDER, caDER}, PrivateKey: srvKey}},
	}
	client = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	return dir, server, client
}

func TestTLSRequired(t *testing.T) {
	_, srvTLS, cliTLS := testPKI(t)
	h := startServer(t, nbd.Config{TLS: srvTLS, TLSRequired: true}, testExports())

	c := dialRaw(t, h.addr)
	c.start()
	for _, opt := range []uint32{oList, oInfo, oGo, oStructured, 42} {
		c.sendOpt(opt, infoData("a"))
		if r := c.optReply(); r.typ != rTLSReqd {
			t.Errorf("option %d before TLS: reply %#x, want NBD_REP_ERR_TLS_REQD", opt, r.typ)
		}
	}
	c.sendOpt(oStartTLS, []byte{1})
	if r := c.optReply(); r.typ != rInvalid {
		t.Errorf("STARTTLS with data: reply %#x", r.typ)
	}
	c.sendOpt(oStartTLS, nil)
	if r := c.optReply(); r.typ != rAck {
		t.Fatalf("STARTTLS: reply %#x", r.typ)
	}
	c.upgrade(cliTLS)
	c.sendOpt(oStartTLS, nil)
	if r := c.optReply(); r.typ != rInvalid {
		t.Errorf("second STARTTLS: reply %#x", r.typ)
	}
	c.sendOpt(oList, nil)
	if r := c.replies(); len(r) != 5 {
		t.Errorf("list over TLS: %d replies", len(r))
	}
	c.goExport("a")
	c.request(0, cWrite, 1, 0, 4096, []byte(strings.Repeat("x", 4096)))
	if errno, _, _ := c.simple(0); errno != 0 {
		t.Fatalf("write over TLS: errno %d", errno)
	}
	c.request(0, cRead, 2, 0, 4096, nil)
	if errno, _, data := c.simple(4096); errno != 0 || string(data) != strings.Repeat("x", 4096) {
		t.Fatalf("read over TLS: errno %d", errno)
	}
	c.request(0, cDisc, 3, 0, 0, nil)
	c.expectClosed()

	// NBD_OPT_EXPORT_NAME cannot be refused: the server hangs up.
	e := dialRaw(t, h.addr)
	e.start()
	e.sendOpt(oExportName, []byte("a"))
	e.expectClosed()
}

func TestTLSOptional(t *testing.T) {
	_, srvTLS, cliTLS := testPKI(t)
	h := startServer(t, nbd.Config{TLS: srvTLS}, testExports())
	plain := dialRaw(t, h.addr)
	plain.start()
	if size, _ := plain.goExport("a"); size != 1<<20 {
		t.Fatalf("plain GO with optional TLS: size %d", size)
	}

	// Structured replies negotiated before STARTTLS do not survive it.
	c := dialRaw(t, h.addr)
	c.start()
	c.sendOpt(oStructured, nil)
	if r := c.optReply(); r.typ != rAck {
		t.Fatalf("structured: %#x", r.typ)
	}
	c.sendOpt(oStartTLS, nil)
	if r := c.optReply(); r.typ != rAck {
		t.Fatalf("STARTTLS: %#x", r.typ)
	}
	c.upgrade(cliTLS)
	c.goExport("b")
	c.request(0, cRead, 1, 0, 512, nil)
	if errno, cookie, _ := c.simple(512); errno != 0 || cookie != 1 {
		t.Fatalf("read: errno %d cookie %d", errno, cookie)
	}
}

func TestTLSClients(t *testing.T) {
	requireTools(t, "nbdinfo", "qemu-img")
	dir, srvTLS, _ := testPKI(t)
	h, _, _ := fileServer(t, nbd.Config{TLS: srvTLS, TLSRequired: true})

	out := run(t, "nbdinfo", "--json", "--no-content", "nbds://"+h.addr+"/vol?tls-certificates="+dir)
	if !strings.Contains(out, `"export-size": 16777216`) {
		t.Errorf("nbdinfo over TLS:\n%s", out)
	}
	if out, err := runErr("nbdinfo", "--no-content", "nbd://"+h.addr+"/vol"); err == nil {
		t.Errorf("nbdinfo without TLS succeeded against a TLS-only server:\n%s", out)
	}
	host, port, _ := net.SplitHostPort(h.addr)
	out = run(t, "qemu-img", "info", "--output=json",
		"--object", "tls-creds-x509,id=tls0,dir="+dir+",endpoint=client",
		"--image-opts", "driver=nbd,host="+host+",port="+port+",export=vol,tls-creds=tls0")
	if !strings.Contains(out, `"virtual-size": 16777216`) {
		t.Errorf("qemu-img info over TLS:\n%s", out)
	}
}
