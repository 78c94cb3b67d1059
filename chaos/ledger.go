package chaos

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// Body is the content of an object, made again from its size and seed
// when it is checked: nothing is kept in memory but the sum.
type Body struct {
	Size int64
	Seed uint64
}

// Reader streams the body's bytes.
func (b Body) Reader() io.Reader {
	return io.LimitReader(&prng{r: rand.New(rand.NewPCG(b.Seed, b.Seed^0x9e3779b97f4a7c15))}, b.Size)
}

// Sum is the body's SHA-256.
func (b Body) Sum() [32]byte {
	h := sha256.New()
	_, _ = io.Copy(h, b.Reader())
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return s
}

type prng struct{ r *rand.Rand }

func (p *prng) Read(b []byte) (int, error) {
	for i := 0; i < len(b); i += 8 {
		v := p.r.Uint64()
		for j := 0; j < 8 && i+j < len(b); j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return len(b), nil
}

// entry is what the ledger knows of one key. A key whose last operation
// was not acknowledged is uncertain: either outcome is allowed.
type entry struct {
	exists    bool
	sum       [32]byte
	size      int64
	uncertain bool
	candidate [][32]byte // sums an uncertain key may hold besides the acked one
}

// Ledger records what the cluster acknowledged. Safe for concurrent use;
// callers use distinct keys per worker (or accept uncertainty).
type Ledger struct {
	mu                 sync.Mutex
	keys               map[string]*entry
	hist               map[string][]event // the last writes of each key
	puts, dels, failed int
	problems           []string // reads under load that CheckRead refused
}

// event is a write the ledger recorded, kept to explain a problem.
type event struct {
	at   time.Time // when it was recorded: the operation's end
	del  bool
	size int64
	sum  [32]byte
	err  error
}

// keepHist is how many acknowledged writes of a key a problem report
// shows, the latest; it shows every failed one (they are few, and the
// ones that may take effect late).
const keepHist = 8

// NewLedger returns an empty ledger.
func NewLedger() *Ledger { return &Ledger{keys: map[string]*entry{}, hist: map[string][]event{}} }

// record adds a write of key to its history; l.mu is held.
func (l *Ledger) record(key string, ev event) {
	ev.at = time.Now()
	h := append(l.hist[key], ev)
	acked := 0
	for _, e := range h {
		if e.err == nil {
			acked++
		}
	}
	if acked > keepHist {
		drop, kept := acked-keepHist, h[:0:0]
		for _, e := range h {
			if drop > 0 && e.err == nil {
				drop--
				continue
			}
			kept = append(kept, e)
		}
		h = kept
	}
	l.hist[key] = h
}

// explain appends the recorded writes of key to problem p, marking those
// whose body is the one read (sum), so that a report tells a late write
// that failed from an acknowledged one lost; l.mu is held.
func (l *Ledger) explain(p, key string, sum [32]byte, missing bool) string {
	var b strings.Builder
	b.WriteString(p)
	b.WriteString("; its last writes:")
	for _, ev := range l.hist[key] {
		what := fmt.Sprintf("PUT %d bytes", ev.size)
		if ev.del {
			what = "DELETE"
		}
		res := "acknowledged"
		if ev.err != nil {
			res = "failed: " + ev.err.Error()
		}
		mark := ""
		if !ev.del && !missing && ev.sum == sum {
			mark = " [the body read]"
		}
		fmt.Fprintf(&b, " %s %s %s%s;", ev.at.Format("15:04:05.000"), what, res, mark)
	}
	return b.String()
}

func (l *Ledger) get(key string) *entry {
	e := l.keys[key]
	if e == nil {
		e = &entry{}
		l.keys[key] = e
	}
	return e
}

// Put records a PUT of body under key; err nil means acknowledged.
func (l *Ledger) Put(key string, size int64, sum [32]byte, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.get(key)
	l.record(key, event{size: size, sum: sum, err: err})
	if err != nil {
		l.failed++
		e.uncertain = true
		e.candidate = append(e.candidate, sum)
		return
	}
	l.puts++
	*e = entry{exists: true, sum: sum, size: size}
}

// Delete records a DELETE of key; err nil means acknowledged.
func (l *Ledger) Delete(key string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.get(key)
	l.record(key, event{del: true, err: err})
	if err != nil {
		l.failed++
		e.uncertain = true
		return
	}
	l.dels++
	*e = entry{}
}

// Counts are the acknowledged PUTs and DELETEs and the failed operations.
func (l *Ledger) Counts() (puts, dels, failed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.puts, l.dels, l.failed
}

// Report is the outcome of Verify.
type Report struct {
	Checked   int      // keys that had to exist and were read in full
	Absent    int      // keys that had to be gone and were
	Uncertain int      // keys whose last operation was not acknowledged
	Bytes     int64    // bytes read and compared
	Problems  []string // lost, corrupt or resurrected objects
}

// Verify reads every key of the ledger and compares it with what was
// acknowledged. A read that fails (other than NoSuchKey) is a problem too:
// it is called after the cluster is back in full.
func (l *Ledger) Verify(ctx context.Context, mc *minio.Client, bucket string) (Report, error) {
	l.mu.Lock()
	keys := make([]string, 0, len(l.keys))
	snap := make(map[string]entry, len(l.keys))
	for k, e := range l.keys {
		keys = append(keys, k)
		snap[k] = *e
	}
	l.mu.Unlock()
	sort.Strings(keys)
	var r Report
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return r, errs.E("chaos.Verify", errs.Unavailable, err)
		}
		e := snap[k]
		sum, n, err := readSum(ctx, mc, bucket, k)
		missing := err != nil && minio.ToErrorResponse(err).Code == "NoSuchKey"
		if err != nil && !missing {
			l.mu.Lock()
			r.Problems = append(r.Problems, l.explain(fmt.Sprintf("%s: read: %v", k, err), k, [32]byte{}, true))
			l.mu.Unlock()
			continue
		}
		r.Bytes += n
		if p := judge(k, e, sum, n, missing); p != "" {
			l.mu.Lock()
			r.Problems = append(r.Problems, l.explain(p, k, sum, missing))
			l.mu.Unlock()
			continue
		}
		switch {
		case e.uncertain:
			r.Uncertain++
		case e.exists:
			r.Checked++
		default:
			r.Absent++
		}
	}
	return r, nil
}

// judge compares what a read of key found with what the ledger allows:
// "" when it is allowed, else the problem.
func judge(k string, e entry, sum [32]byte, n int64, missing bool) string {
	switch {
	case e.uncertain:
		if !missing && sum != e.sum && !containsSum(e.candidate, sum) {
			return fmt.Sprintf("%s: holds %d bytes no PUT sent", k, n)
		}
	case e.exists && missing:
		return fmt.Sprintf("%s: acknowledged PUT of %d bytes lost", k, e.size)
	case e.exists && (sum != e.sum || n != e.size):
		return fmt.Sprintf("%s: %d bytes read, checksum differs from the acknowledged %d bytes", k, n, e.size)
	case !e.exists && !missing:
		return fmt.Sprintf("%s: acknowledged DELETE but the object is back (%d bytes)", k, n)
	}
	return ""
}

// CheckRead judges a read made while a load runs (the caller owns key: no
// write to it is in flight): missing is a NoSuchKey answer, else sum and n
// are of the whole body read. A read the ledger does not allow (wrong or
// stale data, a lost or resurrected object) is kept; Problems returns it.
func (l *Ledger) CheckRead(key string, sum [32]byte, n int64, missing bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	var e entry
	if x := l.keys[key]; x != nil {
		e = *x
	}
	p := judge(key, e, sum, n, missing)
	if p == "" {
		return true
	}
	l.problems = append(l.problems, "read under load: "+l.explain(p, key, sum, missing))
	return false
}

// Problems are the reads under load that CheckRead refused.
func (l *Ledger) Problems() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.problems...)
}

func containsSum(list [][32]byte, s [32]byte) bool {
	for _, c := range list {
		if c == s {
			return true
		}
	}
	return false
}

func readSum(ctx context.Context, mc *minio.Client, bucket, key string) ([32]byte, int64, error) {
	var s [32]byte
	obj, err := mc.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return s, 0, err
	}
	defer obj.Close()
	h := sha256.New()
	n, err := io.Copy(h, obj)
	if err != nil {
		return s, n, err
	}
	copy(s[:], h.Sum(nil))
	return s, n, nil
}
