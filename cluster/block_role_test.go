package cluster

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wolke-cloud/wolke/control"
	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/internal/freeport"
)

// RunBlock, the production block role, greets NBD clients, serves its
// metrics, leads the volume garbage collection alone among two servers
// and stops when its context ends. (e2e/block_role_test.go drives it
// with qemu-io and nbdinfo.)
func TestRunBlockRole(t *testing.T) {
	c := Start(t, Options{DiskSize: 64 << 20})
	metricsAddr := "127.0.0.1:" + strconv.Itoa(freeTCPPort(t))
	run := func(id, metrics string) (addr string, stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		ready := make(chan string, 1)
		done := make(chan error, 1)
		go func() {
			done <- RunBlock(ctx, BlockRole{Cluster: c.ClusterID(), ID: id, Addr: "127.0.0.1:0", Etcd: c.EtcdEndpoints(),
				MetricsAddr: metrics, Logger: c.log.With("node", id), Registry: prometheus.NewRegistry(),
				Serving: func(a string) { ready <- a }})
		}()
		select {
		case addr = <-ready:
		case err := <-done:
			cancel()
			t.Fatalf("RunBlock %s: %v", id, err)
		case <-time.After(20 * time.Second):
			cancel()
			t.Fatalf("RunBlock %s not serving after 20s", id)
		}
		return addr, func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("RunBlock %s: %v", id, err)
				}
			case <-time.After(20 * time.Second):
				t.Errorf("RunBlock %s did not stop within 20s", id)
			}
		}
	}
	a1, stop1 := run("b1", metricsAddr)
	defer stop1()
	a2, stop2 := run("b2", "")
	defer stop2()
	for _, a := range []string{a1, a2} {
		nc, err := net.DialTimeout("tcp", a, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
		greet := make([]byte, 18) // NBDMAGIC, IHAVEOPT, handshake flags
		_, err = io.ReadFull(nc, greet)
		nc.Close()
		if err != nil || string(greet[:8]) != "NBDMAGIC" || string(greet[8:16]) != "IHAVEOPT" {
			t.Fatalf("NBD greeting from %s: %q, %v", a, greet, err)
		}
	}
	resp, err := http.Get("http://" + metricsAddr + "/_wolke/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "wolke_nbd_connections") {
		t.Errorf("metrics: %d\n%.2000s", resp.StatusCode, body)
	}
	// One of the two is elected garbage collector, soon after it serves.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		leader, err := control.Leader(ctx, c.etcdCl, c.ClusterID(), "block-gc")
		if err == nil && (leader == "b1" || leader == "b2") {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("garbage collector leader %q, %v", leader, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestBlockRoleValidate(t *testing.T) {
	for _, r := range []BlockRole{
		{},
		{ID: "b", TLSCert: "c.pem"},
		{ID: "b", NBDTLS: NBDTLSOptions{Required: true}},
	} {
		if err := r.validate(); !errs.Is(err, errs.Invalid) {
			t.Errorf("%+v: %v, want Invalid", r, err)
		}
	}
	ok := BlockRole{ID: "b", NBDTLS: NBDTLSOptions{Required: true, PSKFile: "keys.psk"}}
	if err := ok.validate(); err != nil {
		t.Errorf("%+v: %v", ok, err)
	}
}

// freeTCPPort is a free TCP port on 127.0.0.1 below the kernel's ephemeral
// range, reserved for the rest of the test (internal/freeport).
func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := freeport.Listen("127.0.0.1", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
