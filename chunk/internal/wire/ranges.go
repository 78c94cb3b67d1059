package wire

import (
	"strconv"
	"strings"

	"github.com/wolke-cloud/wolke/internal/errs"
)

// QueryRanges names the ranges of a multi-range PATCH (the HTTP form of
// OpPatchRanges): "off:len,off:len,..." in decimal, the body holding the
// ranges' data one after the other.
const QueryRanges = "ranges"

// FormatRanges renders ranges for QueryRanges.
func FormatRanges(offs []int64, lens []int) string {
	var b strings.Builder
	for i, off := range offs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(off, 10))
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(lens[i]))
	}
	return b.String()
}

// ParseRanges reads QueryRanges: 1 to MaxPatchRanges ranges.
func ParseRanges(s string) (offs, lens []int64, err error) {
	bad := func() ([]int64, []int64, error) {
		return nil, nil, errs.Errorf("wire.ParseRanges", errs.Invalid, "bad %s %q", QueryRanges, s)
	}
	if s == "" || strings.Count(s, ",") >= MaxPatchRanges {
		return bad()
	}
	for r := range strings.SplitSeq(s, ",") {
		o, l, ok := strings.Cut(r, ":")
		off, err1 := strconv.ParseInt(o, 10, 64)
		n, err2 := strconv.ParseInt(l, 10, 64)
		if !ok || err1 != nil || err2 != nil || n < 0 {
			return bad()
		}
		offs, lens = append(offs, off), append(lens, n)
	}
	return offs, lens, nil
}
