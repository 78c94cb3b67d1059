package gatewaytest

import (
	"testing"

	"github.com/wolke-cloud/wolke/gateway"
)

func TestMemory(t *testing.T) {
	RunObjectsSuite(t, func(*testing.T) gateway.Objects { return NewMemory() })
}
