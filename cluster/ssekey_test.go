package cluster

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/wolke-cloud/wolke/internal/errs"
)

func TestMasterKey(t *testing.T) {
	dir := t.TempDir()
	k1, err := loadMasterKey(dir)
	if err != nil || len(k1) != 32 {
		t.Fatalf("first load: %d bytes, %v", len(k1), err)
	}
	if fi, err := os.Stat(filepath.Join(dir, masterKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	k2, err := loadMasterKey(dir)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("second load differs: %v", err)
	}
	bad := filepath.Join(dir, "bad.key")
	os.WriteFile(bad, []byte("short"), 0o600)
	if _, err := readMasterKey(bad); !errs.Is(err, errs.Invalid) {
		t.Errorf("short key file: %v", err)
	}
	if _, err := readMasterKey(filepath.Join(dir, "none")); !errs.Is(err, errs.NotFound) {
		t.Errorf("missing key file: %v", err)
	}
}
