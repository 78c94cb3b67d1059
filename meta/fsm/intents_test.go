package fsm

import (
	"slices"
	"testing"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

func listIntents(t *testing.T, h *harness, limit int32) map[string]*metapb.WriteIntent {
	t.Helper()
	out := map[string]*metapb.WriteIntent{}
	after := ""
	for range 100 {
		resp, err := h.f.ListIntents(ctx, &metapb.ListIntentsRequest{After: after, Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		for _, wi := range resp.Intents {
			if have := out[wi.Id]; have != nil {
				have.StripeIds = append(have.StripeIds, wi.StripeIds...)
				continue
			}
			out[wi.Id] = wi
		}
		if resp.Next == "" {
			return out
		}
		after = resp.Next
	}
	t.Fatal("listing does not end")
	return nil
}

func TestWriteIntents(t *testing.T) {
	h := newHarness(t)
	h.bucket("b", "")
	s1, s2, s3 := []byte("stripe-1________"), []byte("stripe-2________"), []byte("stripe-3________")
	h.must(OpPutIntent, &metapb.PutIntentRequest{Id: "w1", StripeIds: [][]byte{s1}, TtlMillis: 1})
	// A refresh adds stripes and extends the expiry from the command's time.
	resp := h.must(OpPutIntent, &metapb.PutIntentRequest{Id: "w1", StripeIds: [][]byte{s2, s3}, TtlMillis: 1000}).(*metapb.PutIntentResponse)
	if resp.Intent.ExpiresUnixNano != h.now+1000*1e6 {
		t.Fatalf("expiry %d, want %d", resp.Intent.ExpiresUnixNano, h.now+1000*1e6)
	}
	h.must(OpPutIntent, &metapb.PutIntentRequest{Id: "w2", StripeIds: [][]byte{s1}, TtlMillis: 1000})
	for _, limit := range []int32{0, 1, 2} {
		got := listIntents(t, h, limit)
		if len(got) != 2 || len(got["w1"].StripeIds) != 3 || len(got["w2"].StripeIds) != 1 {
			t.Fatalf("limit %d: intents %v", limit, got)
		}
	}
	if _, err := h.do(OpPutIntent, &metapb.PutIntentRequest{Id: "w3", TtlMillis: 0}); !errs.Is(err, errs.Invalid) {
		t.Fatalf("zero ttl: %v", err)
	}

	// A commit naming the intent deletes it in the same command.
	obj := &metapb.Object{Bucket: "b", Key: "k", Etag: `"e"`, Size: 1}
	h.must(OpPutObject, &metapb.PutObjectRequest{Object: obj, IntentId: "w1"})
	if got := listIntents(t, h, 0); got["w1"] != nil || got["w2"] == nil {
		t.Fatalf("after commit: %v", got)
	}
	// A commit naming an intent that is gone fails Unavailable and commits nothing.
	obj2 := &metapb.Object{Bucket: "b", Key: "k2", Etag: `"e"`, Size: 1}
	if _, err := h.do(OpPutObject, &metapb.PutObjectRequest{Object: obj2, IntentId: "w1"}); !errs.Is(err, errs.Unavailable) {
		t.Fatalf("commit with a gone intent: %v", err)
	}
	if _, err := h.f.GetObject(ctx, &metapb.GetObjectRequest{Bucket: "b", Key: "k2"}); !errs.Is(err, errs.NotFound) {
		t.Fatalf("refused commit left an object: %v", err)
	}
	// Expired: refused too, and expired_only deletes it.
	h.must(OpPutIntent, &metapb.PutIntentRequest{Id: "w4", StripeIds: [][]byte{s1}, TtlMillis: 1})
	h.now += 2e6
	if _, err := h.do(OpPutObject, &metapb.PutObjectRequest{Object: obj2, IntentId: "w4"}); !errs.Is(err, errs.Unavailable) {
		t.Fatalf("commit with an expired intent: %v", err)
	}
	h.must(OpDeleteIntent, &metapb.DeleteIntentRequest{Id: "w2", ExpiredOnly: true}) // not expired: kept
	h.must(OpDeleteIntent, &metapb.DeleteIntentRequest{Id: "w4", ExpiredOnly: true})
	if got := listIntents(t, h, 0); got["w4"] != nil || got["w2"] == nil {
		t.Fatalf("after expired-only deletes: %v", got)
	}
	// Parts consume intents the same way; a plain delete always deletes.
	up := h.must(OpCreateUpload, &metapb.CreateUploadRequest{Upload: &metapb.Upload{Bucket: "b", Key: "m", UploadId: "u1"}}).(*metapb.CreateUploadResponse).Upload
	h.must(OpPutIntent, &metapb.PutIntentRequest{Id: "w5", StripeIds: [][]byte{s2}, TtlMillis: 1000})
	part := &metapb.Part{Number: 1, Etag: `"e"`, Size: 1}
	h.must(OpPutPart, &metapb.PutPartRequest{Bucket: "b", Key: "m", UploadId: up.UploadId, Part: part, IntentId: "w5"})
	if _, err := h.do(OpPutPart, &metapb.PutPartRequest{Bucket: "b", Key: "m", UploadId: up.UploadId, Part: part, IntentId: "w5"}); !errs.Is(err, errs.Unavailable) {
		t.Fatalf("part with a gone intent: %v", err)
	}
	h.must(OpDeleteIntent, &metapb.DeleteIntentRequest{Id: "w2"})
	if got := listIntents(t, h, 0); len(got) != 0 {
		t.Fatalf("intents left: %v", got)
	}
}

func TestStaleEpochCommitHints(t *testing.T) {
	h := newHarness(t)
	h.bucket("b", "")
	all := disks(8, 8, 2)
	for _, d := range all[:7] {
		h.must(OpRegisterDisk, &metapb.RegisterDiskRequest{Disk: d})
	}
	g := h.must(OpEnsurePlacementGroups, &metapb.EnsurePlacementGroupsRequest{EcData: 4, EcParity: 2}).(*metapb.EnsurePlacementGroupsResponse).Groups[0]
	fresh := &metapb.Stripe{Id: []byte("fresh___________"), PlacementGroup: g.Id, GroupEpoch: g.Epoch}
	h.must(OpPutObject, &metapb.PutObjectRequest{Object: &metapb.Object{Bucket: "b", Key: "k1", Etag: `"e"`, Size: 1, Stripes: []*metapb.Stripe{fresh}}})
	spare := ""
	for _, d := range all[:7] {
		if !slices.Contains(g.Disks, d.Id) {
			spare = d.Id
		}
	}
	h.must(OpReplaceDisk, &metapb.ReplaceDiskRequest{PlacementGroup: g.Id, OldDisk: g.Disks[0], NewDisk: spare, Epoch: g.Epoch})
	stale := &metapb.Stripe{Id: []byte("stale___________"), PlacementGroup: g.Id, GroupEpoch: g.Epoch}
	legacy := &metapb.Stripe{Id: []byte("legacy__________"), PlacementGroup: g.Id} // no epoch: left to the scan
	h.must(OpPutObject, &metapb.PutObjectRequest{Object: &metapb.Object{Bucket: "b", Key: "k2", Etag: `"e"`, Size: 1, Stripes: []*metapb.Stripe{stale, legacy}}})
	up := h.must(OpCreateUpload, &metapb.CreateUploadRequest{Upload: &metapb.Upload{Bucket: "b", Key: "m", UploadId: "u1"}}).(*metapb.CreateUploadResponse).Upload
	stalePart := &metapb.Stripe{Id: []byte("stalepart_______"), PlacementGroup: g.Id, GroupEpoch: g.Epoch}
	h.must(OpPutPart, &metapb.PutPartRequest{Bucket: "b", Key: "m", UploadId: up.UploadId, Part: &metapb.Part{Number: 2, Etag: `"e"`, Size: 1, Stripes: []*metapb.Stripe{stalePart}}})

	resp, err := h.f.ListRepairHints(ctx, &metapb.ListRepairHintsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Hints) != 2 {
		t.Fatalf("hints %v, want the stale object stripe and the stale part stripe", resp.Hints)
	}
	byKey := map[string]*metapb.RepairHint{}
	for _, hint := range resp.Hints {
		byKey[hint.Ref.Key] = hint
		if hint.GroupEpoch != g.Epoch+1 {
			t.Errorf("hint epoch %d, want %d", hint.GroupEpoch, g.Epoch+1)
		}
	}
	if h2 := byKey["k2"]; h2 == nil || string(h2.Ref.Stripe.Id) != string(stale.Id) || h2.Ref.VersionId != NullVersion {
		t.Fatalf("object hint %v", h2)
	}
	if hp := byKey["m"]; hp == nil || hp.Ref.UploadId != up.UploadId || hp.Ref.PartNumber != 2 {
		t.Fatalf("part hint %v", hp)
	}
	page, err := h.f.ListRepairHints(ctx, &metapb.ListRepairHintsRequest{Limit: 1})
	if err != nil || len(page.Hints) != 1 || page.Next == "" {
		t.Fatalf("page of one: %v %v", page, err)
	}
	for _, hint := range resp.Hints {
		h.must(OpDeleteRepairHint, &metapb.DeleteRepairHintRequest{Id: hint.Id})
	}
	if resp, _ := h.f.ListRepairHints(ctx, &metapb.ListRepairHintsRequest{}); len(resp.GetHints()) != 0 {
		t.Fatalf("hints left: %v", resp.Hints)
	}
}
