package cluster

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/internal/freeport"
)

// state is what a dev cluster keeps in DIR/cluster.json so that a restart
// finds the same cluster: its id and the loopback ports its nodes listen on
// (Raft keeps peer addresses in its configuration, so they must not move).
type state struct {
	ClusterID string            `json:"cluster_id"`
	Ports     map[string]string `json:"ports"` // role name → host:port

	dir string // owns the ports picked (internal/freeport)
}

func loadState(dir string) (*state, error) {
	const op = "cluster.loadState"
	st := &state{Ports: map[string]string{}, dir: dir}
	b, err := os.ReadFile(filepath.Join(dir, "cluster.json"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		st.ClusterID = randomID(8)
		return st, nil
	case err != nil:
		return nil, errs.E(op, errs.Internal, err)
	}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, errs.E(op, errs.Invalid, fmt.Sprintf("%s/cluster.json is damaged", dir), err)
	}
	if st.Ports == nil {
		st.Ports = map[string]string{}
	}
	st.dir = dir
	return st, nil
}

func (st *state) save(dir string) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, "cluster.json"), b, 0o644)
}

// listen opens the remembered port of role, or a fresh loopback port on
// first start, and remembers it.
func (st *state) listen(role, fallback string) (net.Listener, error) {
	addr := st.Ports[role]
	if addr == "" {
		addr = fallback
	}
	var ln net.Listener
	host, port, err := net.SplitHostPort(addr)
	if err == nil && port == "0" {
		// Kept for the next start: a port the kernel never hands out,
		// reserved for this cluster while its directory is there.
		ln, err = freeport.Listen(host, st.dir)
	} else {
		ln, err = freeport.Relisten(addr, st.dir)
	}
	if err != nil {
		return nil, errs.E("cluster.listen", errs.Unavailable, fmt.Sprintf("%s cannot listen on %s", role, addr), err)
	}
	st.Ports[role] = ln.Addr().String()
	return ln, nil
}

// Credentials is one access key pair.
type Credentials struct {
	AccessKey string `json:"access_key"`
	SecretKey string `json:"secret_key"`
}

// rootCredentials returns the given pair, or the one kept in dir, or a new
// one that it keeps there. generated reports that the pair was made now.
func rootCredentials(dir string, given Credentials) (c Credentials, generated bool, err error) {
	if given.AccessKey != "" || given.SecretKey != "" {
		if given.AccessKey == "" || given.SecretKey == "" {
			return c, false, errs.Errorf("cluster.rootCredentials", errs.Invalid, "give both the root access key and the root secret key, or neither")
		}
		return given, false, nil
	}
	path := filepath.Join(dir, "root-credentials.json")
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &c); err == nil && c.AccessKey != "" && c.SecretKey != "" {
			return c, false, nil
		}
	}
	c = Credentials{AccessKey: "WOLKE" + strings.ToUpper(randomID(8)), SecretKey: randomID(20)}
	b, _ := json.MarshalIndent(c, "", "  ")
	if err := writeFileAtomic(path, b, 0o600); err != nil {
		return c, false, err
	}
	return c, true, nil
}

func randomID(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return hex.EncodeToString(b)
}

func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
