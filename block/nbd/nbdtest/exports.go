package nbdtest

import (
	"context"
	"sort"
	"sync"

	"github.com/wolke-cloud/wolke/block/nbd"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// Exports is an nbd.Exports over devices added with Add. It enforces one
// writer per export unless the export is MultiConn, and counts open
// handles so tests can see leaks.
type Exports struct {
	mu sync.Mutex
	m  map[string]*entry
}

type entry struct {
	info    nbd.ExportInfo
	dev     nbd.Export
	writers int
	handles int
}

// NewExports returns an empty registry.
func NewExports() *Exports { return &Exports{m: make(map[string]*entry)} }

// Add serves dev under info.Name; info.Size is taken from dev.
func (x *Exports) Add(info nbd.ExportInfo, dev nbd.Export) {
	info.Size = dev.Size()
	x.mu.Lock()
	defer x.mu.Unlock()
	x.m[info.Name] = &entry{info: info, dev: dev}
}

// Handles returns how many handles of the named export are open.
func (x *Exports) Handles(name string) int {
	x.mu.Lock()
	defer x.mu.Unlock()
	if e, ok := x.m[name]; ok {
		return e.handles
	}
	return 0
}

func (x *Exports) Open(_ context.Context, name string, readOnly bool) (nbd.Export, nbd.ExportInfo, error) {
	const op = "nbdtest.Exports.Open"
	x.mu.Lock()
	defer x.mu.Unlock()
	e, ok := x.m[name]
	if !ok {
		return nil, nbd.ExportInfo{}, errs.Errorf(op, errs.NotFound, "export %q", name)
	}
	writer := !readOnly && !e.info.ReadOnly
	if writer && !e.info.MultiConn && e.writers > 0 {
		return nil, nbd.ExportInfo{}, errs.Errorf(op, errs.Precondition, "export %q has a writer", name)
	}
	if writer {
		e.writers++
	}
	e.handles++
	return &handle{Export: e.dev, x: x, e: e, writer: writer}, e.info, nil
}

func (x *Exports) List(context.Context) ([]nbd.ExportInfo, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := make([]nbd.ExportInfo, 0, len(x.m))
	for _, e := range x.m {
		out = append(out, e.info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// handle is one open of a device; closing it releases the writer claim
// but leaves the device open.
type handle struct {
	nbd.Export
	x      *Exports
	e      *entry
	writer bool
	once   sync.Once
}

func (h *handle) Close() error {
	h.once.Do(func() {
		h.x.mu.Lock()
		defer h.x.mu.Unlock()
		h.e.handles--
		if h.writer {
			h.e.writers--
		}
	})
	return nil
}
