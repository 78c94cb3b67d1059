package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// suiteEnv is what TestMain prepares once per test binary run: the wolke
// binary, or why there is none. It is written only by TestMain.
type suiteEnv struct {
	skip     string // non-empty: skip every test, with this reason
	bin      string // path of the built wolke binary
	buildErr error  // the build failed: every test fails with this
	buildOut string
}

var suite suiteEnv

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if os.Getenv("WOLKE_E2E") == "0" {
		suite.skip = "WOLKE_E2E=0"
		return m.Run()
	}
	if bin := os.Getenv("WOLKE_E2E_BIN"); bin != "" {
		suite.bin = bin
		return m.Run()
	}
	tmp, err := os.MkdirTemp("", "wolke-e2e-bin-")
	if err != nil {
		suite.buildErr = err
		return m.Run()
	}
	defer os.RemoveAll(tmp)
	suite.bin, suite.buildOut, suite.buildErr = buildWolke(tmp)
	return m.Run()
}

// buildWolke builds ./cmd/wolke from the module root into dir.
func buildWolke(dir string) (bin, out string, err error) {
	root, err := moduleRoot()
	if err != nil {
		return "", "", err
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		if gr := os.Getenv("GOROOT"); gr != "" {
			goTool = filepath.Join(gr, "bin", "go")
		} else {
			return "", "", fmt.Errorf("no go tool on PATH: %w", err)
		}
	}
	bin = filepath.Join(dir, "wolke")
	start := time.Now()
	cmd := exec.Command(goTool, "build", "-o", bin, "./cmd/wolke")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return "", buf.String(), fmt.Errorf("go build ./cmd/wolke in %s: %w", root, err)
	}
	fmt.Fprintf(os.Stderr, "e2e: built %s in %v\n", bin, time.Since(start).Round(time.Millisecond))
	return bin, buf.String(), nil
}

// moduleRoot walks up from the working directory to Wolke's go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(data), "module github.com/wolke-cloud/wolke\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of github.com/wolke-cloud/wolke above the working directory")
		}
		dir = parent
	}
}

// wolkeBin returns the binary for a test: it skips when the suite is
// switched off and fails (never skips) when the binary could not be built.
func wolkeBin(t *testing.T) string {
	t.Helper()
	if suite.skip != "" {
		t.Skip(suite.skip)
	}
	if suite.buildErr != nil {
		t.Fatalf("cannot build the wolke binary: %v\n%s", suite.buildErr, suite.buildOut)
	}
	if _, err := os.Stat(suite.bin); err != nil {
		t.Fatalf("wolke binary: %v", err)
	}
	return suite.bin
}
