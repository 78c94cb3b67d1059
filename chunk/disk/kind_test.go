package disk

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/wolke-cloud/wolke/internal/errs"
)

func TestIOKind(t *testing.T) {
	cases := []struct {
		err  error
		want errs.Kind
	}{
		{unix.EIO, errs.Unavailable},
		{unix.ENXIO, errs.Unavailable},
		{unix.ENOSPC, errs.NoSpace},
		{unix.EDQUOT, errs.NoSpace},
		{unix.EBADF, errs.Internal},
	}
	for _, c := range cases {
		if got := ioKind(c.err); got != c.want {
			t.Errorf("ioKind(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
