// Package chaos drives a running Wolke cluster through faults and checks
// that nothing acknowledged is lost.
//
// The library part is small: a Ledger of acknowledged PUTs and DELETEs,
// Load (a bounded mixed PUT/GET/DELETE workload over S3 that fills the
// ledger), Verify (reads every object the ledger says must exist and
// compares its SHA-256, and checks deleted keys are gone) and Stats.
// The scenarios live in this package's tests, on in-process clusters from
// cluster.Start (chunk servers stopped and restarted under load, a disk
// file truncated under a running server, disks filled to ENOSPC, a disk
// returning EIO (bad sectors, then dead: declared lost and rebuilt), bytes
// flipped in a disk file under load (scrub and repair), a disk that
// returns stale after its shards were rebuilt elsewhere, the meta leader
// stopped 3 or 20 times, a lost disk rebuilt with and without a
// foreground load), and in e2e/chaos_*_test.go on separate wolke
// processes (kill -9 of chunk servers, the meta leader and a gateway,
// a SIGSTOPped leader, power loss of every process; a meta leader cut
// off by its veth link, each meta in its own network namespace; and two
// chunk servers cut off from the gateway, not from meta or repair).
//
// Load also checks every GET against the ledger as it goes (Stats.Wrong,
// Ledger.Problems): a read of stale or wrong data fails the scenario even
// when the final Verify would not see it.
//
// CHAOS=short (the default, run by `make test`) keeps every scenario to
// seconds; CHAOS=long (`make chaos`) runs more rounds and bigger objects.
package chaos
