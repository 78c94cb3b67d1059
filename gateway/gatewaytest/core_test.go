package gatewaytest

import (
	"testing"

	"github.com/wolke-cloud/wolke/core"
	"github.com/wolke-cloud/wolke/core/coretest"
	"github.com/wolke-cloud/wolke/gateway"
)

// TestCoreStore runs the suite against the real object layer over the
// in-memory meta and chunk fakes of core/coretest.
func TestCoreStore(t *testing.T) {
	RunObjectsSuite(t, func(t *testing.T) gateway.Objects {
		st, err := core.New(core.Config{DataShards: 2, ParityShards: 1, ShardSize: 64 << 10},
			core.Deps{Meta: coretest.NewMeta("d0", "d1", "d2"), Shards: coretest.NewShards()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	})
}
