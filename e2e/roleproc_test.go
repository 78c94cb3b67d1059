package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// startRole starts `wolke ARGS... COMMON...` with its output in
// DIR/NAME.log. At cleanup a process still running gets SIGTERM and must
// exit within 20s; the end of its log is printed when the test failed.
func startRole(t *testing.T, dir string, common []string, name string, args ...string) *exec.Cmd {
	t.Helper()
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(suite.bin, append(args, common...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				t.Errorf("%s did not stop on SIGTERM within 20s", name)
			}
		}
		logf.Close()
		if t.Failed() {
			t.Logf("%s log:\n%s", name, tail(logf.Name(), 3000))
		}
	})
	return cmd
}
