// Package archtest keeps the import direction of DESIGN.md honest:
// internal ← clients of meta and chunk ← servers and services ← cluster ← cmd.
package archtest

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/wolke-cloud/wolke"

// layer orders the module's packages; a package may import only packages of
// a lower or equal layer, and the rules below forbid some same-layer pairs.
func layer(pkg string) int {
	p := strings.TrimPrefix(pkg, module+"/")
	switch {
	case strings.HasPrefix(p, "internal/"):
		return 0
	case p == "meta/metapb", p == "meta/metaclient", p == "meta/metaerr", p == "chunk/chunkclient",
		p == "control", p == "iam/sigv4", p == "iam/sigv2", p == "iam/policy", p == "chunk/disk",
		strings.Contains(p, "/internal/"):
		return 1 // clients, API types, wire formats (signatures, the policy language) shared by services
	case strings.HasPrefix(p, "cluster"):
		return 3
	case strings.HasPrefix(p, "cmd/"):
		return 4
	default:
		return 2 // servers and services
	}
}

// service returns the top-level folder, which is one service or server.
func service(pkg string) string {
	p := strings.TrimPrefix(pkg, module+"/")
	return strings.SplitN(p, "/", 2)[0]
}

// allowedAcross lists the server-level packages other services may import:
// the object layer (core), the library every storage service shares, and
// its test fakes.
func allowedAcross(to string) bool {
	t := strings.TrimPrefix(to, module+"/")
	return t == "core" || strings.HasPrefix(t, "core/") && strings.HasSuffix(t, "test")
}

func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"/...").Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		from := fields[0]
		checked++
		for _, to := range fields[1:] {
			if !strings.HasPrefix(to, module+"/") {
				continue
			}
			if err := check(from, to); err != "" {
				t.Errorf("%s imports %s: %s", from, to, err)
			}
		}
	}
	if checked < 5 {
		t.Fatalf("checked only %d packages", checked)
	}
}

func check(from, to string) string {
	lf, lt := layer(from), layer(to)
	if lt > lf {
		return "imports a higher layer (internal ← clients ← servers/services ← cluster ← cmd)"
	}
	if lf == 2 && lt == 2 && service(from) != service(to) && !allowedAcross(to) {
		return "a service imports another service's server package; declare the small interface you need and let cluster/cmd wire it"
	}
	return ""
}

func TestCheckRules(t *testing.T) {
	m := module + "/"
	cases := []struct {
		from, to string
		ok       bool
	}{
		{m + "gateway", m + "internal/errs", true},
		{m + "gateway", m + "core", true},
		{m + "gateway", m + "meta", false},
		{m + "gateway", m + "chunk", false},
		{m + "core", m + "chunk/chunkclient", true},
		{m + "meta/metaclient", m + "meta", false},
		{m + "internal/errs", m + "meta/metapb", false},
		{m + "cluster", m + "gateway", true},
		{m + "gateway", m + "cluster", false},
		{m + "cmd/wolke", m + "cluster", true},
		{m + "chunk", m + "chunk/store", true},
		{m + "chunk/chunkclient", m + "chunk/internal/wire", true},
		{m + "chunk/internal/wire", m + "chunk", false},
		{m + "gateway", m + "meta/metaerr", true},
		{m + "core", m + "meta/fsm", false},
	}
	for _, c := range cases {
		if got := check(c.from, c.to) == ""; got != c.ok {
			t.Errorf("%s → %s: allowed=%v, want %v", c.from, c.to, got, c.ok)
		}
	}
}
