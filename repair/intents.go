package repair

import (
	"context"
	"encoding/hex"
	"time"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

// intentPage is how many stripe ids one ListIntents call returns.
const intentPage = 10000

// heldStripes reads the write intents and returns the hex ids of the
// stripes that writes in progress protect from collection. It must run
// after the chunk listing and before the manifest scan: a chunk listed
// was written after its intent was recorded (or is younger than the
// writers' IntentAfter, far below GCGrace), and an intent gone by now was
// either committed (the scan that follows sees the manifest) or given up.
// Intents expired by this worker's clock protect nothing and are deleted
// (meta deletes them only if they expired by its own clock too).
func (w *Worker) heldStripes(ctx context.Context) (map[string]bool, error) {
	now := w.now()
	held := map[string]bool{}
	var expired []string
	after := ""
	for {
		resp, err := w.deps.Meta.ListIntents(ctx, &metapb.ListIntentsRequest{After: after, Limit: intentPage})
		if err != nil {
			return nil, err
		}
		for _, wi := range resp.Intents {
			if now.After(time.Unix(0, wi.ExpiresUnixNano)) {
				if len(expired) == 0 || expired[len(expired)-1] != wi.Id {
					expired = append(expired, wi.Id)
				}
				continue
			}
			for _, s := range wi.StripeIds {
				held[hex.EncodeToString(s)] = true
			}
		}
		if resp.Next == "" {
			break
		}
		after = resp.Next
	}
	for _, id := range expired {
		if _, err := w.deps.Meta.DeleteIntent(ctx, &metapb.DeleteIntentRequest{Id: id, ExpiredOnly: true}); err != nil && !errs.Is(err, errs.NotFound) {
			w.log.Warn("expired write intent not deleted", "intent", id, "err", err)
			continue
		}
		w.log.Info("expired write intent deleted", "intent", id)
	}
	return held, nil
}
