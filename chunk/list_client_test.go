package chunk_test

import (
	"context"
	"slices"
	"testing"

	"github.com/wolke-cloud/wolke/chunk"
	"github.com/wolke-cloud/wolke/internal/errs"
)

func TestClientListChunks(t *testing.T) {
	h := start(t, chunk.Config{ID: "s1", ClusterID: cluster, Disks: diskConfigs(t.TempDir(), 1)})
	id := h.srv.Disks()[0].ID
	ctx := context.Background()
	for _, c := range []string{"a.1", "a.2", "b.1"} {
		if err := h.cli.WriteShard(ctx, id, c, []byte("data of "+c)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		prefix, after string
		limit         int
		want          []string
	}{
		{"", "", 0, []string{"a.1", "a.2", "b.1"}},
		{"", "", 2, []string{"a.1", "a.2"}},
		{"", "a.2", 2, []string{"b.1"}},
		{"a.", "", 0, []string{"a.1", "a.2"}},
	}
	for _, tc := range tests {
		got, err := h.cli.ListChunks(ctx, id, tc.prefix, tc.after, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, c := range got {
			ids = append(ids, c.ID)
			if c.Length != int64(len("data of "+c.ID)) || c.Created.IsZero() {
				t.Fatalf("listed %+v", c)
			}
		}
		if !slices.Equal(ids, tc.want) {
			t.Fatalf("list(%q, %q, %d) = %v, want %v", tc.prefix, tc.after, tc.limit, ids, tc.want)
		}
	}
	if _, err := h.cli.ListChunks(ctx, "no-such-disk", "", "", 0); !errs.Is(err, errs.NotFound) {
		t.Fatalf("listing an unknown disk: %v, want NotFound", err)
	}
}
