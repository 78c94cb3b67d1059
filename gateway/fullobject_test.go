package gateway

import (
	"encoding/base64"
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
