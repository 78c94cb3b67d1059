package errs

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestKinds(t *testing.T) {
	base := E("meta.GetBucket", NotFound, "bucket b")
	wrapped := fmt.Errorf("gateway: %w", base)
	cases := []struct {
		name string
		err  error
		kind Kind
	}{
		{"direct", base, NotFound},
		{"wrapped", wrapped, NotFound},
		{"nested", E("outer", Other, wrapped), NotFound},
		{"outer wins", E("outer", Unavailable, base), Unavailable},
		{"plain", errors.New("x"), Other},
		{"nil", nil, Other},
		{"ctx", fmt.Errorf("read: %w", context.Canceled), Canceled},
		{"deadline", context.DeadlineExceeded, Canceled},
		{"bare kind", Corrupt, Corrupt},
	}
	for _, c := range cases {
		if got := KindOf(c.err); got != c.kind {
			t.Errorf("%s: KindOf = %v, want %v", c.name, got, c.kind)
		}
	}
	if !errors.Is(wrapped, NotFound) || errors.Is(wrapped, Exists) {
		t.Fatal("errors.Is with a Kind target")
	}
	if !Is(wrapped, NotFound) || Is(nil, Other) {
		t.Fatal("Is")
	}
	if got := base.Error(); got != "meta.GetBucket: bucket b" {
		t.Fatalf("Error() = %q", got)
	}
	if got := E("op", Exists).Error(); got != "op: exists" {
		t.Fatalf("Error() = %q", got)
	}
}
