package e2e

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/internal/freeport"
)

const (
	startTimeout = 90 * time.Second // first start includes Raft bootstrap and disk formatting
	stopTimeout  = 30 * time.Second // the contract: SIGINT exits 0 within 30 s
)

// Cluster is one `wolke dev` process with its data directory. Start, Stop,
// Kill and Restart fail the test that made the cluster and must be called
// from its goroutine; the client helpers (Run, AWS, S3cmd, Python) take the
// (sub)test they run for.
type Cluster struct {
	t         *testing.T
	bin       string
	Dir       string // --dir: survives Stop/Kill/Start
	Port      int    // S3 port, the same across restarts
	NBDPort   int    // NBD port for volumes; 0 runs without NBD (--nbd-addr "")
	AccessKey string
	SecretKey string
	Args      []string // more flags for wolke dev (--user, ...)
	TLS       bool     // wolke dev --tls: HTTPS, trusting CABundle() (tls_test.go)

	logPath string
	home    string // HOME and config files for clients
	env     []string

	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	starts  int
}

// NewCluster prepares a cluster (binary, directories, port, credentials)
// without starting it. Processes still running at cleanup are killed; the
// end of the log is printed when the test failed.
func NewCluster(t *testing.T) *Cluster {
	t.Helper()
	c := &Cluster{
		t:         t,
		bin:       wolkeBin(t),
		Dir:       t.TempDir(),
		Port:      freePort(t),
		AccessKey: "WOLKE" + randomToken(t, 15, upperAlnum),
		SecretKey: randomToken(t, 40, secretChars),
	}
	logDir := t.TempDir()
	c.logPath = filepath.Join(logDir, "wolke.log")
	c.home = t.TempDir()
	c.env = c.clientEnv(t)
	t.Cleanup(c.cleanup)
	return c
}

// StartCluster is NewCluster and Start.
func StartCluster(t *testing.T) *Cluster {
	t.Helper()
	c := NewCluster(t)
	c.Start()
	return c
}

// Endpoint is the S3 endpoint URL.
func (c *Cluster) Endpoint() string {
	if c.TLS {
		return "https://" + c.Addr()
	}
	return "http://" + c.Addr()
}

// Addr is the S3 host:port.
func (c *Cluster) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port)) }

// nbdAddr is the --nbd-addr of wolke dev: "" unless NBDPort is set, so
// that clusters of parallel tests do not compete for the default port.
func (c *Cluster) nbdAddr() string {
	if c.NBDPort == 0 {
		return ""
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(c.NBDPort))
}

// Running reports whether the process is alive.
func (c *Cluster) Running() bool {
	if c.cmd == nil {
		return false
	}
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// Start runs `wolke dev` and waits until /_wolke/health answers 200.
func (c *Cluster) Start() {
	c.t.Helper()
	if c.Running() {
		c.t.Fatal("Start: wolke is already running")
	}
	c.starts++
	logf, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	fmt.Fprintf(logf, "=== e2e: start #%d at %s ===\n", c.starts, time.Now().Format(time.RFC3339Nano))
	args := []string{"dev",
		"--dir", c.Dir,
		"--s3-addr", c.Addr(),
		"--root-access-key", c.AccessKey,
		"--root-secret-key", c.SecretKey,
		"--nbd-addr", c.nbdAddr(),
	}
	args = append(args, c.Args...)
	if c.TLS {
		args = append(args, "--tls")
	}
	cmd := exec.Command(c.bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "HOME="+c.home)
	cmd.SysProcAttr = childAttr()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		c.t.Fatalf("start wolke: %v", err)
	}
	c.cmd, c.exited, c.waitErr = cmd, make(chan struct{}), nil
	go func(exited chan struct{}) {
		c.waitErr = cmd.Wait()
		logf.Close()
		close(exited)
	}(c.exited)
	c.t.Logf("started wolke dev (pid %d) on %s, dir %s", cmd.Process.Pid, c.Endpoint(), c.Dir)
	c.waitHealthy(startTimeout)
	c.t.Logf("wolke healthy after %v", time.Since(start).Round(time.Millisecond))
}

// waitHealthy polls the health endpoint until 200, the process exits, or d.
func (c *Cluster) waitHealthy(d time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	last := "no answer"
	for time.Now().Before(deadline) {
		select {
		case <-c.exited:
			c.t.Fatalf("wolke exited during start-up: %v\n%s", c.waitErr, c.LogTail(8<<10))
		default:
		}
		code, err := c.Health()
		if err == nil && code == http.StatusOK {
			return
		}
		if err != nil {
			last = err.Error()
		} else {
			last = "status " + strconv.Itoa(code)
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("wolke not healthy after %v (last: %s)\n%s", d, last, c.LogTail(8<<10))
}

// Health returns the status code of GET /_wolke/health.
func (c *Cluster) Health() (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Endpoint()+"/_wolke/health", nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Stop sends SIGINT and requires a clean exit (status 0) within 30 s.
func (c *Cluster) Stop() {
	c.t.Helper()
	if !c.Running() {
		c.t.Fatal("Stop: wolke is not running")
	}
	start := time.Now()
	if err := c.cmd.Process.Signal(os.Interrupt); err != nil {
		c.t.Fatalf("SIGINT: %v", err)
	}
	select {
	case <-c.exited:
	case <-time.After(stopTimeout):
		c.cmd.Process.Kill()
		<-c.exited
		c.t.Fatalf("wolke did not exit within %v of SIGINT\n%s", stopTimeout, c.LogTail(8<<10))
	}
	if c.waitErr != nil {
		c.t.Fatalf("wolke exited uncleanly after SIGINT: %v\n%s", c.waitErr, c.LogTail(8<<10))
	}
	c.t.Logf("wolke stopped cleanly in %v", time.Since(start).Round(time.Millisecond))
	// The contract: `wolke dev` prints its endpoint and credentials.
	out := c.LogTail(1 << 20)
	for _, want := range []string{c.Addr(), c.AccessKey} {
		if !strings.Contains(out, want) {
			c.t.Errorf("wolke dev's output does not mention %q", want)
		}
	}
}

// Kill sends SIGKILL, as a crash would, and reaps the process.
func (c *Cluster) Kill() {
	c.t.Helper()
	if !c.Running() {
		c.t.Fatal("Kill: wolke is not running")
	}
	if err := c.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		c.t.Fatalf("SIGKILL: %v", err)
	}
	<-c.exited
	c.t.Logf("wolke killed (SIGKILL)")
}

// Restart is Stop then Start on the same directory and port.
func (c *Cluster) Restart() {
	c.t.Helper()
	c.Stop()
	c.Start()
}

// cleanup stops a cluster still running: cleanly (SIGINT, exit 0 within
// 30 s, checked) when the test passed so far, with SIGKILL otherwise.
func (c *Cluster) cleanup() {
	if c.Running() && !c.t.Failed() {
		c.cmd.Process.Signal(os.Interrupt)
		select {
		case <-c.exited:
			if c.waitErr != nil {
				c.t.Errorf("wolke exited uncleanly after SIGINT at the end of the test: %v", c.waitErr)
			}
		case <-time.After(stopTimeout):
			c.t.Errorf("wolke did not exit within %v of SIGINT at the end of the test", stopTimeout)
		}
	}
	if c.Running() {
		c.cmd.Process.Kill()
		<-c.exited
	}
	if c.t.Failed() && c.starts > 0 {
		c.t.Logf("end of wolke's output (%s):\n%s", c.logPath, c.LogTail(16<<10))
		if p := filepath.Join(c.Dir, "wolke.log"); fileExists(p) {
			c.t.Logf("end of %s:\n%s", p, tail(p, 16<<10))
		}
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// LogTail returns the last n bytes of the process's stdout and stderr.
func (c *Cluster) LogTail(n int64) string { return tail(c.logPath, n) }

// tail returns the last n bytes of a file.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		f.Seek(st.Size()-n, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// freePort is a free TCP port on 127.0.0.1 below the kernel's ephemeral
// range, reserved for the rest of the test (internal/freeport).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := freeport.Listen("127.0.0.1", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

const (
	upperAlnum  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	secretChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

func randomToken(t *testing.T, n int, alphabet string) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
