package core

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"hash/crc32"
	"io"
	"testing"

	"github.com/wolke-cloud/wolke/meta/metapb"
)

// TestPutChecksumsOverStripes: S3 checksums asked for at PUT are computed
// over every stripe (off the critical path, with the MD5) and stored, for
// bodies of known and unknown size, inline or striped.
func TestPutChecksumsOverStripes(t *testing.T) {
	e := newEnv(t, testConfig(), 6)
	for _, size := range []int{10, testInline + 1, 3*testStripe + 17} {
		for _, known := range []bool{true, false} {
			data := payload(uint64(size)+7, size)
			var body io.Reader = bytes.NewReader(data)
			n := int64(size)
			if !known {
				body, n = oneByteReader{body}, -1
			}
			opts := PutOptions{Hashes: map[string]hash.Hash{"sha256": sha256.New(), "crc32c": crc32.New(crc32.MakeTable(crc32.Castagnoli))}}
			obj, err := e.s.PutObjectWith(context.Background(), &metapb.Object{Bucket: testBucket, Key: "sums"}, body, n, opts)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			crc := crc32.New(crc32.MakeTable(crc32.Castagnoli))
			crc.Write(data)
			want := map[string]string{
				"sha256": base64.StdEncoding.EncodeToString(sum[:]),
				"crc32c": base64.StdEncoding.EncodeToString(crc.Sum(nil)),
			}
			for alg, v := range want {
				if got := obj.GetChecksums()[alg]; got != v {
					t.Errorf("size %d known %v: %s = %s, want %s", size, known, alg, got, v)
				}
			}
			if obj.GetEtag() != etagOf(data) {
				t.Errorf("size %d known %v: etag %s, want %s", size, known, obj.GetEtag(), etagOf(data))
			}
		}
	}
}

// TestDigesterWaitsForEveryHash: a stripe's done channel closes only after
// every hash consumed it, and close leaves the hashes complete.
func TestDigesterWaitsForEveryHash(t *testing.T) {
	a, b := sha256.New(), sha256.New()
	d := newDigester(2, []hash.Hash{a, b})
	var dones []<-chan struct{}
	for i := range 5 {
		dones = append(dones, d.add(bytes.Repeat([]byte{byte(i)}, 1000)))
	}
	for _, done := range dones {
		<-done
	}
	d.close()
	want := sha256.New()
	for i := range 5 {
		want.Write(bytes.Repeat([]byte{byte(i)}, 1000))
	}
	if !bytes.Equal(a.Sum(nil), want.Sum(nil)) || !bytes.Equal(b.Sum(nil), want.Sum(nil)) {
		t.Fatal("hashes differ from the bytes added")
	}
}
