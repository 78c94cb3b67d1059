package gateway

import (
	"encoding/base64"
	"hash"
	"hash/crc32"
	"net/http"
	"testing"

	"github.com/wolke-cloud/wolke/iam/sigv4"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

func TestCreateChecksum(t *testing.T) {
	for _, tc := range []struct {
		alg, typ string
		want     uploadChecksum
		code     string
	}{
		{"", "", uploadChecksum{}, ""},
		{"CRC32", "", uploadChecksum{"crc32", checksumComposite}, ""},
		{"CRC64NVME", "", uploadChecksum{"crc64nvme", checksumFullObject}, ""},
		{"crc32c", "FULL_OBJECT", uploadChecksum{"crc32c", checksumFullObject}, ""},
		{"SHA1", "COMPOSITE", uploadChecksum{"sha1", checksumComposite}, ""},
		{"SHA256", "FULL_OBJECT", uploadChecksum{}, sigv4.CodeInvalidRequest},
		{"CRC64NVME", "COMPOSITE", uploadChecksum{}, sigv4.CodeInvalidRequest},
		{"", "FULL_OBJECT", uploadChecksum{}, sigv4.CodeInvalidRequest},
		{"CRC32", "WHOLE", uploadChecksum{}, sigv4.CodeInvalidRequest},
		{"MD5", "", uploadChecksum{}, sigv4.CodeInvalidRequest},
	} {
		h := http.Header{}
		if tc.alg != "" {
			h.Set("X-Amz-Checksum-Algorithm", tc.alg)
		}
		if tc.typ != "" {
			h.Set("X-Amz-Checksum-Type", tc.typ)
		}
		got, err := createChecksum(h)
		if got != tc.want || sigv4.CodeOf(err) != tc.code {
			t.Errorf("%s/%s: %+v, %v; want %+v, %s", tc.alg, tc.typ, got, err, tc.want, tc.code)
		}
	}
}

func TestCompleteChecksums(t *testing.T) {
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	crc := func(s string) string {
		v := crc32.ChecksumIEEE([]byte(s))
		return b64([]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	parts := []*metapb.Part{{Number: 1, Checksums: map[string]string{"crc32": crc("hello ")}}, {Number: 2, Checksums: map[string]string{"crc32": crc("world")}}}
	listed := []map[string]string{{"crc32": crc("hello ")}, {"crc32": crc("world")}}
	full := uploadChecksum{"crc32", checksumFullObject}
	sums, err := full.completeChecksums(http.Header{}, nil, parts, []int64{6, 5})
	if err != nil || sums["crc32"] != crc("hello world") {
		t.Fatalf("full object: %v, %v; want %s", sums, err, crc("hello world"))
	}
	h := http.Header{"X-Amz-Checksum-Type": {"COMPOSITE"}}
	if _, err := full.completeChecksums(h, listed, parts, []int64{6, 5}); sigv4.CodeOf(err) != sigv4.CodeInvalidRequest {
		t.Errorf("another checksum mode at complete: %v", err)
	}
	comp := uploadChecksum{"crc32", checksumComposite}
	sums, err = comp.completeChecksums(http.Header{}, listed, parts, nil)
	if err != nil || len(sums["crc32"]) < 3 || sums["crc32"][len(sums["crc32"])-2:] != "-2" {
		t.Fatalf("composite: %v, %v", sums, err)
	}
	bare := sums["crc32"][:len(sums["crc32"])-2]
	for _, v := range []string{sums["crc32"], bare} {
		if _, err := comp.completeChecksums(http.Header{"X-Amz-Checksum-Crc32": {v}}, listed, parts, nil); err != nil {
			t.Errorf("composite value %q at complete: %v", v, err)
		}
	}
	if _, err := comp.completeChecksums(http.Header{"X-Amz-Checksum-Crc32": {crc("x")}}, listed, parts, nil); sigv4.CodeOf(err) != sigv4.CodeBadDigest {
		t.Errorf("wrong composite value: %v", err)
	}
	if _, err := comp.completeChecksums(http.Header{}, []map[string]string{listed[0], {}}, parts, nil); sigv4.CodeOf(err) != sigv4.CodeInvalidRequest {
		t.Errorf("a part listed without its checksum: %v", err)
	}
}

// TestDefaultChecksums: writes without a checksum get S3's default
// CRC-64/NVME: PUT and copies of a source without checksums, parts of an
// upload without an algorithm, and its completion (combined full-object,
// only when every part has it and no type was asked for).
func TestDefaultChecksums(t *testing.T) {
	only := func(what string, hs map[string]hash.Hash) {
		t.Helper()
		if len(hs) != 1 || hs["crc64nvme"] == nil {
			t.Errorf("%s: hashes %v, want crc64nvme only", what, hs)
		}
	}
	only("put", withDefault(nil))
	only("copy of a source without checksums", checksumHashes(&metapb.Object{}, http.Header{}))
	parts, err := uploadChecksum{}.partHashes(nil)
	if err != nil {
		t.Fatal(err)
	}
	only("part", parts)
	only("part copy", uploadChecksum{}.copyHashes())
	sent := map[string]hash.Hash{"crc32": crc32.NewIEEE()}
	if got := withDefault(sent); len(got) != 1 || got["crc32"] == nil {
		t.Errorf("a body with a checksum got %v", got)
	}
	if got := checksumHashes(&metapb.Object{Checksums: map[string]string{"sha1": "x"}}, http.Header{}); len(got) != 1 || got["sha1"] == nil {
		t.Errorf("a copy of a SHA-1 source got %v", got)
	}

	a, b := []byte("first part "), []byte("and the second")
	sum := func(p []byte) string {
		h, _ := sigv4.NewChecksum("crc64nvme")
		h.Write(p)
		return base64.StdEncoding.EncodeToString(h.Sum(nil))
	}
	used := []*metapb.Part{{Number: 1, Checksums: map[string]string{"crc64nvme": sum(a)}}, {Number: 2, Checksums: map[string]string{"crc64nvme": sum(b)}}}
	sizes := []int64{int64(len(a)), int64(len(b))}
	got, err := uploadChecksum{}.completeChecksums(http.Header{}, nil, used, sizes)
	if err != nil || len(got) != 1 || got["crc64nvme"] != sum(append(a, b...)) {
		t.Errorf("complete: %v, %v; want crc64nvme %s", got, err, sum(append(a, b...)))
	}
	old := []*metapb.Part{used[0], {Number: 2}}
	if got, err := (uploadChecksum{}).completeChecksums(http.Header{}, nil, old, sizes); err != nil || got != nil {
		t.Errorf("complete with a part without checksum: %v, %v; want none", got, err)
	}
}
