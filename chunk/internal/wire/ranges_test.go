package wire

import (
	"slices"
	"strings"
	"testing"

	"github.com/wolke-cloud/wolke/internal/errs"
)

func TestRanges(t *testing.T) {
	offs, lens := []int64{0, 8192, 1 << 20}, []int{4096, 8192, 4096}
	s := FormatRanges(offs, lens)
	if s != "0:4096,8192:8192,1048576:4096" {
		t.Fatalf("FormatRanges: %q", s)
	}
	gotOffs, gotLens, err := ParseRanges(s)
	if err != nil || !slices.Equal(gotOffs, offs) || !slices.Equal(gotLens, []int64{4096, 8192, 4096}) {
		t.Fatalf("ParseRanges(%q) = %v %v, %v", s, gotOffs, gotLens, err)
	}
	for _, bad := range []string{"", "1", "1:", ":1", "1:2,", "a:1", "1:-1", "1:2;3:4", strings.Repeat("0:1,", MaxPatchRanges) + "0:1"} {
		if _, _, err := ParseRanges(bad); !errs.Is(err, errs.Invalid) {
			t.Errorf("ParseRanges(%.20q): %v, want Invalid", bad, err)
		}
	}
}
