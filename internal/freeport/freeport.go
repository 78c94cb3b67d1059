// Package freeport picks ports for listeners whose address is kept across
// restarts: Raft peers, chunk servers and the embedded etcd of a cluster
// in one process (wolke dev), and the servers a test restarts.
//
// A port the kernel picks (port 0) comes from its ephemeral range, which
// is also where it takes the source ports of outgoing connections and the
// port-0 listeners of every other process: a port given up for a restart
// could be taken before it is bound again. The kernel never hands out a
// port below that range, so the ports are picked there.
//
// Below that range, programs using this package are the ones that could
// take each other's ports. Each port picked for an owner (a data
// directory) is written down in a registry shared by the programs of one
// user (registry.go); a pick skips ports whose owner still exists, so a
// cluster that stops keeps its ports until it starts again, for as long
// as its directory is there.
package freeport

import (
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// lowest is the bottom of the range picked from: above the ports well
// known services and development servers use.
const lowest = 20000

// attempts bounds the random ports tried before port 0 is used instead.
const attempts = 64

// rangeFile holds the kernel's ephemeral port range ("32768\t60999").
const rangeFile = "/proc/sys/net/ipv4/ip_local_port_range"

// Listen listens on TCP host:port with a free port below the kernel's
// ephemeral range that no living owner has reserved, or on host:0 when
// there is none to be had. A non-empty owner (a path) reserves the port
// for as long as that path exists.
func Listen(host, owner string) (net.Listener, error) {
	top := ephemeralStart()
	if top <= lowest {
		return net.Listen("tcp", net.JoinHostPort(host, "0"))
	}
	reg := openRegistry()
	defer reg.close()
	for range attempts {
		port := lowest + rand.IntN(top-lowest)
		if reg.reserved(port) {
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err == nil {
			reg.reserve(port, owner)
			return ln, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) && !errors.Is(err, syscall.EACCES) {
			return nil, err
		}
	}
	return net.Listen("tcp", net.JoinHostPort(host, "0"))
}

// Pick returns host:port for a port that Listen chose for owner and
// released: free when Pick returned, for a server that binds it itself.
func Pick(host, owner string) (string, error) {
	ln, err := Listen(host, owner)
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// Relisten listens on a kept address again and renews owner's reservation
// of its port (the registry may have been wiped with the temp directory).
func Relisten(addr, owner string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if owner != "" {
		if port := ln.Addr().(*net.TCPAddr).Port; port >= lowest {
			reg := openRegistry()
			reg.reserve(port, owner)
			reg.close()
		}
	}
	return ln, nil
}

// ephemeralStart is the first port of the kernel's ephemeral range, or 0
// when it cannot be read (not Linux).
func ephemeralStart() int {
	b, err := os.ReadFile(rangeFile)
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil {
		return 0
	}
	return lo
}
