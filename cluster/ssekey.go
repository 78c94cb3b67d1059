package cluster

import (
	"crypto/rand"
	"os"
	"path/filepath"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// masterKeyFile holds the cluster's SSE-S3 master key in the data
// directory: 32 random bytes made on first start, readable by the owner only.
const masterKeyFile = "sse-master.key"

// loadMasterKey reads the master key under dir, making it on first use.
func loadMasterKey(dir string) ([]byte, error) {
	const op = "cluster.masterKey"
	p := filepath.Join(dir, masterKeyFile)
	key, err := readMasterKey(p)
	if err == nil || !errs.Is(err, errs.NotFound) {
		return key, err
	}
	key = make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read never fails
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, key, 0o600); err != nil {
		return nil, errs.E(op, errs.Internal, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return nil, errs.E(op, errs.Internal, err)
	}
	return key, nil
}

// readMasterKey reads a master key file: exactly 32 bytes.
func readMasterKey(p string) ([]byte, error) {
	const op = "cluster.masterKey"
	key, err := os.ReadFile(p)
	switch {
	case os.IsNotExist(err):
		return nil, errs.E(op, errs.NotFound, err)
	case err != nil:
		return nil, errs.E(op, errs.Internal, err)
	case len(key) != 32:
		return nil, errs.Errorf(op, errs.Invalid, "%s holds %d bytes, a master key has 32", p, len(key))
	}
	return key, nil
}
