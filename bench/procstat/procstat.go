// Package procstat reads how much CPU time a Linux process has used, from
// /proc/<pid>/stat, to charge a benchmark's work to the server that did it
// (CPU seconds per GB moved).
package procstat

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// userHZ is the unit of the times in /proc/<pid>/stat: USER_HZ, which Linux
// fixes at 100 for user space on every architecture.
const userHZ = 100

// Usage is the CPU time a process has used, all its threads together.
type Usage struct {
	User, System time.Duration
}

// Total is user plus system time.
func (u Usage) Total() time.Duration { return u.User + u.System }

// Sub is the usage between an earlier sample and u.
func (u Usage) Sub(earlier Usage) Usage {
	return Usage{User: u.User - earlier.User, System: u.System - earlier.System}
}

// Read samples the CPU time of process pid so far. A process that does
// not exist fails with errs.NotFound.
func Read(pid int) (Usage, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		if os.IsNotExist(err) {
			return Usage{}, errs.E("procstat.Read", errs.NotFound, err)
		}
		return Usage{}, errs.E("procstat.Read", errs.Internal, err)
	}
	return parse(b)
}

// parse reads utime and stime, fields 14 and 15 of a stat line. The command
// name, field 2, is in parentheses and may hold spaces and parentheses
// itself, so fields are counted from the last ')'.
func parse(b []byte) (Usage, error) {
	const op = "procstat.parse"
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return Usage{}, errs.Errorf(op, errs.Invalid, "no command name in %q", b)
	}
	f := bytes.Fields(b[end+1:]) // f[0] is field 3, the state
	if len(f) < 13 {
		return Usage{}, errs.Errorf(op, errs.Invalid, "%d fields after the command name, want 13 or more", len(f))
	}
	var ticks [2]uint64
	for i, s := range [][]byte{f[11], f[12]} {
		v, err := strconv.ParseUint(string(s), 10, 64)
		if err != nil {
			return Usage{}, errs.E(op, errs.Invalid, err)
		}
		ticks[i] = v
	}
	tick := time.Second / userHZ
	return Usage{User: time.Duration(ticks[0]) * tick, System: time.Duration(ticks[1]) * tick}, nil
}
