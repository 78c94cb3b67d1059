package repair

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/wolke-cloud/wolke/chunk/chunkclient"
	"github.com/wolke-cloud/wolke/meta/metapb"
	"google.golang.org/grpc"
)

// intentMeta serves write intents.
type intentMeta struct {
	Meta
	intents []*metapb.WriteIntent
	deleted []string
}

func (f *intentMeta) ListIntents(_ context.Context, in *metapb.ListIntentsRequest, _ ...grpc.CallOption) (*metapb.ListIntentsResponse, error) {
	return &metapb.ListIntentsResponse{Intents: f.intents}, nil
}

func (f *intentMeta) DeleteIntent(_ context.Context, in *metapb.DeleteIntentRequest, _ ...grpc.CallOption) (*metapb.DeleteIntentResponse, error) {
	if in.ExpiredOnly {
		f.deleted = append(f.deleted, in.Id)
	}
	return &metapb.DeleteIntentResponse{}, nil
}

// deleteShards records deletions.
type deleteShards struct {
	Shards
	deleted []string
}

func (d *deleteShards) DeleteShard(_ context.Context, _, id string) error {
	d.deleted = append(d.deleted, id)
	return nil
}

func TestGCKeepsStripesOfLiveIntents(t *testing.T) {
	now := time.Unix(10000, 0)
	held := []byte{0xaa, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	stale := []byte{0xbb, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	orphan := []byte{0xcc, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	fm := &intentMeta{intents: []*metapb.WriteIntent{
		{Id: "live", StripeIds: [][]byte{held}, ExpiresUnixNano: now.Add(time.Minute).UnixNano()},
		{Id: "expired", StripeIds: [][]byte{stale}, ExpiresUnixNano: now.Add(-time.Second).UnixNano()},
	}}
	sh := &deleteShards{}
	w, err := New(Config{GCGrace: time.Hour}, Deps{Meta: fm, Scanner: nopScanner{}, Shards: sh,
		Live: func(context.Context) (map[string]bool, error) { return nil, nil },
		Now:  func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	old := now.Add(-2 * time.Hour)
	inv := map[string]*diskInv{"d1": {refd: map[string]bool{}, chunks: map[string]chunkclient.ChunkInfo{}}}
	var ids []string
	for _, s := range [][]byte{held, stale, orphan} {
		for i := range 2 {
			id := chunkID(s, i)
			ids = append(ids, id)
			inv["d1"].chunks[id] = chunkclient.ChunkInfo{ID: id, Length: 1, Created: old}
		}
	}
	keep, err := w.heldStripes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	w.collect(context.Background(), inv, keep, false)
	slices.Sort(sh.deleted)
	if want := ids[2:]; !slices.Equal(sh.deleted, want) {
		t.Fatalf("deleted %v, want the shards of the expired intent and of no intent %v", sh.deleted, want)
	}
	if !slices.Equal(fm.deleted, []string{"expired"}) {
		t.Fatalf("intents deleted %v, want the expired one", fm.deleted)
	}
}
