package freeport

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// registry is the directory of port reservations of this user's programs:
// one file per port holding the absolute path of its owner. A reservation
// lasts while its owner path exists. Every look and change happens under
// an exclusive lock on the directory's lock file, so two programs never
// reserve the same port. Without a usable registry (a read-only temp
// directory), ports are picked as if none were reserved.
type registry struct {
	dir  string
	lock *os.File // nil: no registry
}

// registryDir is where the reservations of this user live.
func registryDir() string {
	return filepath.Join(os.TempDir(), "wolke-freeport-"+strconv.Itoa(os.Getuid()))
}

func openRegistry() *registry {
	r := &registry{dir: registryDir()}
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		return r
	}
	f, err := os.OpenFile(filepath.Join(r.dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return r
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return r
	}
	r.lock = f
	return r
}

// close releases the lock.
func (r *registry) close() {
	if r.lock != nil {
		r.lock.Close() // closing the last descriptor drops the flock
		r.lock = nil
	}
}

func (r *registry) path(port int) string {
	return filepath.Join(r.dir, strconv.Itoa(port))
}

// reserved reports that port belongs to an owner that still exists.
func (r *registry) reserved(port int) bool {
	if r.lock == nil {
		return false
	}
	b, err := os.ReadFile(r.path(port))
	if err != nil || len(b) == 0 {
		return false
	}
	_, err = os.Stat(string(b))
	return err == nil
}

// reserve writes port down for owner; an empty owner reserves nothing and
// drops a stale reservation.
func (r *registry) reserve(port int, owner string) {
	if r.lock == nil {
		return
	}
	if owner == "" {
		os.Remove(r.path(port))
		return
	}
	if abs, err := filepath.Abs(owner); err == nil {
		owner = abs
	}
	os.WriteFile(r.path(port), []byte(owner), 0o600)
}
