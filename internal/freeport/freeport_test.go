package freeport

import (
	"net"
	"testing"
)

// TestListenBelowEphemeral: the ports picked lie below the kernel's
// ephemeral range (where nothing else is handed them), differ between
// calls, and a picked address can be bound again once released.
func TestListenBelowEphemeral(t *testing.T) {
	top := ephemeralStart()
	if top <= lowest {
		t.Skipf("ephemeral range starts at %d: Listen uses port 0 here", top)
	}
	seen := map[int]bool{}
	for range 20 {
		ln, err := Listen("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		port := ln.Addr().(*net.TCPAddr).Port
		if port < lowest || port >= top {
			t.Fatalf("port %d outside [%d, %d)", port, lowest, top)
		}
		seen[port] = true
	}
	if len(seen) < 2 {
		t.Fatal("every Listen picked the same port")
	}
	addr, err := Pick("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("picked %s cannot be bound: %v", addr, err)
	}
	ln.Close()
	if _, p, _ := net.SplitHostPort(addr); p == "0" {
		t.Fatalf("Pick gave %s", addr)
	}
}
