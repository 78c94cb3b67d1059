package freeport

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestListenBelowEphemeral: the ports picked lie below the kernel's
// ephemeral range (where nothing else is handed them), differ between
// calls, and a picked address can be bound again once released.
func TestListenBelowEphemeral(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	top := ephemeralStart()
	if top <= lowest {
		t.Skipf("ephemeral range starts at %d: Listen uses port 0 here", top)
	}
	seen := map[int]bool{}
	for range 20 {
		ln, err := Listen("127.0.0.1", "")
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
	addr, err := Pick("127.0.0.1", "")
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

// TestReservedPortsAreSkipped: a port picked for an owner is not picked
// again, by this program or another, while the owner exists, even when
// nothing listens on it; once the owner is gone the port is free to pick.
func TestReservedPortsAreSkipped(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	top := ephemeralStart()
	if top <= lowest {
		t.Skipf("ephemeral range starts at %d: Listen uses port 0 here", top)
	}
	owner := filepath.Join(t.TempDir(), "cluster")
	if err := os.Mkdir(owner, 0o700); err != nil {
		t.Fatal(err)
	}
	addr, err := Pick("127.0.0.1", owner)
	if err != nil {
		t.Fatal(err)
	}
	_, ps, _ := net.SplitHostPort(addr)
	kept, err := strconv.Atoi(ps)
	if err != nil {
		t.Fatal(err)
	}

	// Reserve every other port of the range for a second owner, leaving
	// the kept port (its owner alive, nothing listening) and a handful.
	other := t.TempDir()
	free := map[int]bool{}
	reg := openRegistry()
	if reg.lock == nil {
		t.Fatal("no registry under TMPDIR")
	}
	for p := lowest; p < top; p++ {
		switch {
		case p == kept:
		case p%2000 == 7:
			free[p] = true
		default:
			reg.reserve(p, other)
		}
	}
	reg.close()
	for range 5 {
		ln, err := Listen("127.0.0.1", "")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if port == kept {
			t.Fatalf("Listen took %d, reserved for %s", kept, owner)
		}
		if port >= lowest && port < top && !free[port] {
			t.Fatalf("Listen took %d, reserved for %s", port, other)
		}
	}

	// The kept address can be bound again by its owner.
	ln, err := Relisten(addr, owner)
	if err != nil {
		t.Fatalf("Relisten %s: %v", addr, err)
	}
	ln.Close()

	// With its owner gone, the reservation no longer counts.
	if err := os.RemoveAll(owner); err != nil {
		t.Fatal(err)
	}
	reg = openRegistry()
	defer reg.close()
	if reg.reserved(kept) {
		t.Fatalf("port %d still reserved after %s was removed", kept, owner)
	}
	probe := lowest + 1
	if probe == kept {
		probe++
	}
	if !reg.reserved(probe) {
		t.Fatalf("port %d not reserved for %s", probe, other)
	}
}
