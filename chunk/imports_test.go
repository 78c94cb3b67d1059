package chunk_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportDirection keeps the layers honest: the disk knows nothing of
// stores, the store nothing of servers, the client nothing of the server or
// its store.
func TestImportDirection(t *testing.T) {
	const mod = "github.com/wolke-cloud/wolke/"
	cases := []struct {
		dir       string
		forbidden []string // an import equal to one, or below it, is refused
	}{
		{"disk", []string{mod + "chunk"}},
		{"store", []string{mod + "chunk/internal", mod + "chunk/chunkclient", mod + "chunk"}},
		{"chunkclient", []string{mod + "chunk/store", mod + "chunk/disk", mod + "chunk"}},
		{"internal/wire", []string{mod + "chunk"}},
	}
	allowed := map[string]bool{ // below a forbidden path, but fine
		mod + "chunk/disk":          true, // for store
		mod + "chunk/internal/wire": true, // for chunkclient
	}
	for _, c := range cases {
		files, err := filepath.Glob(filepath.Join(c.dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no sources (%v)", c.dir, err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			af, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range af.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				for _, bad := range c.forbidden {
					below := path == bad || strings.HasPrefix(path, bad+"/")
					if below && !(allowed[path] && path != bad) {
						t.Errorf("%s imports %s", f, path)
					}
				}
			}
		}
	}
}
