package core

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/wolke-cloud/wolke/internal/errs"
	"github.com/wolke-cloud/wolke/meta/metapb"
)

func TestSSERoundTrip(t *testing.T) {
	cfg := testConfig()
	cfg.MasterKey = bytes.Repeat([]byte{7}, 32)
	e := newEnv(t, cfg, 6)
	ctx := context.Background()
	customer := bytes.Repeat([]byte{9}, 32)
	sizes := []int{0, 1, 100, sealBlock, sealBlock + 1, 3*sealBlock + 5000}
	for _, enc := range []*Encryption{{}, {CustomerKey: customer}} {
		ro := ReadOptions{CustomerKey: enc.CustomerKey}
		for i, n := range sizes {
			data := payload(uint64(i), n)
			obj, err := e.s.PutObjectWith(ctx, &metapb.Object{Bucket: testBucket, Key: "k"}, bytes.NewReader(data), int64(n), PutOptions{Encryption: enc})
			if err != nil {
				t.Fatalf("put %d bytes: %v", n, err)
			}
			if obj.GetSize() != int64(n) || obj.GetEncryption().GetStoredSize() != sealedSize(int64(n)) {
				t.Fatalf("manifest of %d bytes: size %d, stored %d", n, obj.GetSize(), obj.GetEncryption().GetStoredSize())
			}
			if enc.CustomerKey == nil && obj.GetEtag() != etagOf(data) {
				t.Errorf("SSE-S3 etag %s, want the plaintext MD5", obj.GetEtag())
			}
			if n > 0 && bytes.Contains(storedBytes(t, e, obj), data[:min(n, 64)]) && n >= 16 {
				t.Errorf("%d bytes stored in the clear", n)
			}
			for _, r := range [][2]int64{{0, -1}, {0, int64(n)}, {int64(n / 2), -1}, {int64(n / 3), int64(n / 3)}, {int64(max(n-1, 0)), 1}, {sealBlock - 3, 10}} {
				off, length := r[0], r[1]
				if off > int64(n) {
					continue
				}
				rc, err := e.s.OpenObjectWith(ctx, obj, off, length, ro)
				if err != nil {
					t.Fatalf("open %d bytes at %d+%d: %v", n, off, length, err)
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				end := int64(n)
				if length >= 0 {
					end = min(end, off+length)
				}
				if err != nil || !bytes.Equal(got, data[off:end]) {
					t.Fatalf("read %d bytes at %d+%d: %d bytes, %v", n, off, length, len(got), err)
				}
			}
		}
	}
	obj, err := e.s.PutObjectWith(ctx, &metapb.Object{Bucket: testBucket, Key: "c"}, bytes.NewReader([]byte("secret")), 6,
		PutOptions{Encryption: &Encryption{CustomerKey: customer}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		key  []byte
		kind errs.Kind
	}{
		{"no key", nil, errs.Invalid},
		{"wrong key", bytes.Repeat([]byte{1}, 32), errs.Permission},
		{"short key", []byte("short"), errs.Permission},
	}
	for _, tc := range tests {
		if _, err := e.s.OpenObjectWith(ctx, obj, 0, -1, ReadOptions{CustomerKey: tc.key}); !errs.Is(err, tc.kind) {
			t.Errorf("%s: %v, want kind %v", tc.name, err, tc.kind)
		}
	}
	// Without a master key SSE-S3 is refused.
	plain := newEnv(t, testConfig(), 6)
	if _, err := plain.s.PutObjectWith(ctx, &metapb.Object{Bucket: testBucket, Key: "k"}, bytes.NewReader([]byte("x")), 1,
		PutOptions{Encryption: &Encryption{}}); !errs.Is(err, errs.Invalid) {
		t.Errorf("SSE-S3 without a master key: %v", err)
	}
}

func TestSSETamper(t *testing.T) {
	cfg := testConfig()
	cfg.MasterKey = bytes.Repeat([]byte{7}, 32)
	e := newEnv(t, cfg, 6)
	ctx := context.Background()
	obj, err := e.s.PutObjectWith(ctx, &metapb.Object{Bucket: testBucket, Key: "k"}, bytes.NewReader([]byte("tiny")), 4, PutOptions{Encryption: &Encryption{}})
	if err != nil {
		t.Fatal(err)
	}
	obj.Inline[0] ^= 1
	if _, err := readAllWith(e, obj); !errs.Is(err, errs.Corrupt) {
		t.Errorf("flipped bit: %v", err)
	}
}

func readAllWith(e *env, obj *metapb.Object) ([]byte, error) {
	rc, err := e.s.OpenObjectWith(context.Background(), obj, 0, -1, ReadOptions{})
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// storedBytes returns the raw stored content of obj.
func storedBytes(t *testing.T, e *env, obj *metapb.Object) []byte {
	t.Helper()
	raw := &metapb.Object{Bucket: obj.GetBucket(), Key: obj.GetKey(), Size: obj.GetEncryption().GetStoredSize(), Inline: obj.GetInline(),
		EcData: obj.GetEcData(), EcParity: obj.GetEcParity(), Stripes: obj.GetStripes()}
	rc, err := e.s.openRaw(context.Background(), raw, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return b
}

func TestSSEMultipart(t *testing.T) {
	cfg := testConfig()
	cfg.MasterKey = bytes.Repeat([]byte{7}, 32)
	e := newEnv(t, cfg, 6)
	ctx := context.Background()
	customer := bytes.Repeat([]byte{9}, 32)
	for _, enc := range []*Encryption{{}, {CustomerKey: customer}} {
		id, err := e.s.CreateMultipartUploadWith(ctx, &metapb.Object{Bucket: testBucket, Key: "mp"}, enc)
		if err != nil {
			t.Fatal(err)
		}
		// Parts 2 and 5: the part numbers, not their order, go into the nonces.
		p2, p5 := payload(2, sealBlock+700), payload(5, 3000)
		var done []*metapb.CompletedPart
		for _, p := range []struct {
			n    int32
			data []byte
		}{{2, p2}, {5, p5}} {
			part, err := e.s.UploadPartWith(ctx, testBucket, "mp", id, p.n, bytes.NewReader(p.data), int64(len(p.data)), PartOptions{CustomerKey: enc.CustomerKey})
			if err != nil {
				t.Fatalf("part %d: %v", p.n, err)
			}
			if part.GetPlainSize() != int64(len(p.data)) || part.GetSize() != sealedSize(int64(len(p.data))) {
				t.Fatalf("part %d sizes: %d plain, %d stored", p.n, part.GetPlainSize(), part.GetSize())
			}
			done = append(done, &metapb.CompletedPart{Number: p.n, Etag: part.GetEtag()})
		}
		if enc.CustomerKey != nil {
			if _, err := e.s.UploadPartWith(ctx, testBucket, "mp", id, 9, bytes.NewReader([]byte("x")), 1, PartOptions{}); !errs.Is(err, errs.Invalid) {
				t.Errorf("SSE-C part without the key: %v", err)
			}
		}
		obj, err := e.s.CompleteMultipartUpload(ctx, testBucket, "mp", id, done)
		if err != nil {
			t.Fatal(err)
		}
		all := append(append([]byte(nil), p2...), p5...)
		if obj.GetSize() != int64(len(all)) {
			t.Fatalf("size %d, want %d", obj.GetSize(), len(all))
		}
		for _, r := range [][2]int64{{0, -1}, {sealBlock - 5, 800}, {int64(len(p2)) - 1, 2}, {int64(len(p2)), -1}, {int64(len(all)) - 1, 1}} {
			rc, err := e.s.OpenObjectWith(ctx, obj, r[0], r[1], ReadOptions{CustomerKey: enc.CustomerKey})
			if err != nil {
				t.Fatalf("open %v: %v", r, err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			end := int64(len(all))
			if r[1] >= 0 {
				end = r[0] + r[1]
			}
			if err != nil || !bytes.Equal(got, all[r[0]:end]) {
				t.Fatalf("read %v: %d bytes, %v", r, len(got), err)
			}
		}
	}
}
