package main

import (
	"os"
	"runtime"
)

// extraProcs is how many Ps a role that does disk I/O runs beyond the
// CPUs it may use.
//
// Reads, writes and syncs of files block the OS thread that makes them
// (the netpoller only serves sockets), and Go hands a blocked thread's P to
// another thread only after sysmon notices, from 20 µs to milliseconds
// later. With one P per CPU, a chunk store's many short pwrites and its
// fdatasyncs leave CPUs idle while the NBD and chunk goroutines that could
// run wait for a P: on the 2-core bench machine `wolke dev` ran fio's 4 KiB
// random writes at QD32 at 22-27k IOPS with GOMAXPROCS=2 and 32-34k with 8,
// 1 MiB sequential reads at 880-990 against 1370-1480 MiB/s
// (bench/results/2026-11-27-nbd-round7.md). The kernel shares the CPUs
// among the extra threads.
const extraProcs = 6

// ioProcs returns the GOMAXPROCS for a role that does disk I/O, given the
// runtime's default (the CPUs, or the cgroup's CPU limit) and the
// GOMAXPROCS environment variable: a value set there is the operator's and
// wins (0 means keep it).
func ioProcs(def int, env string) int {
	if env != "" {
		return 0
	}
	return def + extraProcs
}

// useIOProcs sets GOMAXPROCS for a role that does disk I/O (see
// extraProcs).
func useIOProcs() {
	if n := ioProcs(runtime.GOMAXPROCS(0), os.Getenv("GOMAXPROCS")); n > 0 {
		runtime.GOMAXPROCS(n)
	}
}
