package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	awsV2Path   = "/usr/bin/aws"     // Debian's awscli package: aws-cli v2
	pythonPath  = "/usr/bin/python3" // Debian's python3 with python3-boto3
	installHint = "run scripts/install-test-deps.sh"
)

// missingClient fails the test for a missing client: always in CI, and
// outside CI unless WOLKE_E2E_ALLOW_MISSING=1, which skips instead.
func missingClient(t *testing.T, what string, err error) {
	t.Helper()
	if os.Getenv("CI") != "true" && os.Getenv("WOLKE_E2E_ALLOW_MISSING") == "1" {
		t.Skipf("%s is missing (%v); skipped because WOLKE_E2E_ALLOW_MISSING=1", what, err)
	}
	t.Fatalf("%s is missing (%v): %s", what, err, installHint)
}

// awsCLI is one installed aws-cli.
type awsCLI struct {
	name    string // "v1" or "v2"
	path    string
	version string
}

// awsCLIs finds aws-cli v1 (the first `aws` on PATH, if it is v1) and v2
// (/usr/bin/aws). v2 is required; without v1 the tests log it and go on.
func awsCLIs(t *testing.T) []awsCLI {
	t.Helper()
	var clis []awsCLI
	if p, err := exec.LookPath("aws"); err == nil {
		if v := toolVersion(t, p, "--version"); strings.HasPrefix(v, "aws-cli/1.") {
			clis = append(clis, awsCLI{"v1", p, v})
		} else {
			t.Logf("no aws-cli v1 first on PATH (%s is %q): testing /usr/bin/aws (v2) only", p, v)
		}
	} else {
		t.Logf("no aws on PATH: testing /usr/bin/aws (v2) only")
	}
	v := toolVersion(t, awsV2Path, "--version")
	if !strings.HasPrefix(v, "aws-cli/2.") {
		missingClient(t, "aws-cli v2 at "+awsV2Path, fmt.Errorf("version %q", v))
	}
	clis = append(clis, awsCLI{"v2", awsV2Path, v})
	for _, c := range clis {
		t.Logf("aws-cli %s: %s (%s)", c.name, c.path, c.version)
	}
	return clis
}

// needS3cmd returns the s3cmd path or fails/skips per missingClient.
func needS3cmd(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("s3cmd")
	if err != nil {
		missingClient(t, "s3cmd", err)
	}
	t.Logf("s3cmd: %s (%s)", p, toolVersion(t, p, "--version"))
	return p
}

// needBoto3 checks that Debian's python3 can import boto3.
func needBoto3(t *testing.T) {
	t.Helper()
	v := toolVersion(t, pythonPath, "-c", "import boto3, botocore; print(boto3.__version__, botocore.__version__)")
	if v == "" || strings.Contains(v, "Error") {
		missingClient(t, "python3-boto3 for "+pythonPath, fmt.Errorf("%s", v))
	}
	t.Logf("boto3/botocore: %s", v)
}

// toolVersion runs a version command in a clean environment and returns
// its first output line ("" when it cannot run).
func toolVersion(t *testing.T, path string, args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "LANG=C.UTF-8"}
	out, err := cmd.CombinedOutput()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if err != nil && line == "" {
		return ""
	}
	return line
}

// clientEnv is the whole environment clients run with: credentials for
// this cluster, a private HOME and empty AWS config files so nothing from
// the user's setup leaks in. Only PATH and a few tool variables are kept.
func (c *Cluster) clientEnv(t *testing.T) []string {
	cfg := filepath.Join(c.home, "aws-config")
	creds := filepath.Join(c.home, "aws-credentials")
	for _, p := range []string{cfg, creds} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{
		"HOME=" + c.home,
		"LANG=C.UTF-8",
		"AWS_ACCESS_KEY_ID=" + c.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + c.SecretKey,
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE=" + cfg,
		"AWS_SHARED_CREDENTIALS_FILE=" + creds,
		"AWS_PAGER=",
		"AWS_EC2_METADATA_DISABLED=true",
		"WOLKE_ENDPOINT=" + c.Endpoint(),
	}
	for _, k := range []string{"PATH", "TMPDIR", "PYENV_ROOT", "PYENV_VERSION"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// Run runs a client command with the cluster's client environment in dir
// and fails t unless it exits 0. It returns stdout+stderr. The client
// helpers take the (sub)test they run for: a cluster may serve subtests.
func (c *Cluster) Run(t *testing.T, timeout time.Duration, dir, name string, args ...string) string {
	t.Helper()
	out, err := c.RunErr(t, timeout, dir, name, args...)
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmdline(name, args), err, clip(out, 8<<10))
	}
	return out
}

// RunErr is Run without failing: the error is non-nil when the command
// did not exit 0.
func (c *Cluster) RunErr(t *testing.T, timeout time.Duration, dir, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = c.env
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	start := time.Now()
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %v: %w", timeout, err)
	}
	t.Logf("$ %s  (%v)", cmdline(name, args), time.Since(start).Round(time.Millisecond))
	return buf.String(), err
}

// AWS runs an aws-cli against the cluster.
func (c *Cluster) AWS(t *testing.T, cli awsCLI, timeout time.Duration, dir string, args ...string) string {
	t.Helper()
	return c.Run(t, timeout, dir, cli.path, append([]string{"--endpoint-url", c.Endpoint()}, args...)...)
}

// AWSErr is AWS without failing.
func (c *Cluster) AWSErr(t *testing.T, cli awsCLI, timeout time.Duration, dir string, args ...string) (string, error) {
	t.Helper()
	return c.RunErr(t, timeout, dir, cli.path, append([]string{"--endpoint-url", c.Endpoint()}, args...)...)
}

// S3cmdConfig writes (once) and returns an s3cmd config for the cluster.
func (c *Cluster) S3cmdConfig(t *testing.T) string {
	p := filepath.Join(c.home, "s3cfg")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	cfg := fmt.Sprintf(`[default]
access_key = %s
secret_key = %s
host_base = %s
host_bucket = %s
use_https = False
signature_v2 = False
bucket_location = us-east-1
check_ssl_certificate = False
guess_mime_type = False
progress_meter = False
`, c.AccessKey, c.SecretKey, c.Addr(), c.Addr())
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// S3cmd runs s3cmd with the cluster's config.
func (c *Cluster) S3cmd(t *testing.T, path string, timeout time.Duration, dir string, args ...string) string {
	t.Helper()
	return c.Run(t, timeout, dir, path, append([]string{"-c", c.S3cmdConfig(t)}, args...)...)
}

// Python runs a python3 script (Debian's interpreter, for Debian's boto3).
func (c *Cluster) Python(t *testing.T, timeout time.Duration, dir, script string, args ...string) string {
	t.Helper()
	return c.Run(t, timeout, dir, pythonPath, append([]string{"-c", script}, args...)...)
}

func cmdline(name string, args []string) string {
	parts := []string{filepath.Base(name)}
	for _, a := range args {
		if strings.ContainsAny(a, " \t\n'\"") || a == "" {
			a = fmt.Sprintf("%q", a)
		}
		if len(a) > 120 {
			a = a[:60] + "…" + a[len(a)-20:]
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
