package core

import (
	"github.com/klauspost/reedsolomon"
	"github.com/wolke-cloud/wolke/internal/errs"
)

// NewCodec returns the Reed-Solomon code stripes of k data and m parity
// shards are written with, so that other packages (repair) rebuild shards
// exactly as core encodes them.
func NewCodec(k, m int) (reedsolomon.Encoder, error) {
	if k < 1 || m < 1 || k+m > 256 {
		return nil, errs.Errorf("core.NewCodec", errs.Invalid, "erasure code %d+%d out of range", k, m)
	}
	enc, err := reedsolomon.New(k, m)
	if err != nil {
		return nil, errs.E("core.NewCodec", errs.Internal, err)
	}
	return enc, nil
}
