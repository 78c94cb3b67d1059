package s3load

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// counters feed the progress line while a run is going.
type counters struct {
	ops, bytes, errs atomic.Int64
}

// worker is one of the --concurrent clients. It owns its random source, its
// read buffer and the records it timed; nothing here is shared but the
// client and the counters.
type worker struct {
	id     int
	c      *s3.Client
	bucket string
	root   string // prefix of every key of the run
	table  *crc32.Table
	rng    *rand.Rand
	buf    []byte
	seq    int
	recs   []Record
	count  *counters
}

// prefix is the worker's own key prefix (list lists exactly this).
func (w *worker) prefix() string { return fmt.Sprintf("%sw%d/", w.root, w.id) }

// newKey names the next object this worker writes.
func (w *worker) newKey() string {
	w.seq++
	return fmt.Sprintf("%s%d", w.prefix(), w.seq)
}

// add keeps a record, unless it is a failure caused by the end of the run:
// an operation cut short by the deadline or Ctrl-C is not an error.
func (w *worker) add(ctx context.Context, r Record) {
	if r.Err != "" && ctx.Err() != nil {
		return
	}
	w.recs = append(w.recs, r)
	if r.Err != "" {
		w.count.errs.Add(1)
		return
	}
	w.count.ops.Add(1)
	w.count.bytes.Add(r.Bytes)
}

// put writes key with size pseudo-random bytes generated from seed (the
// key itself unless several versions of it must differ).
func (w *worker) put(ctx context.Context, key, seed string, size int64) (object, Record) {
	body := newContent(seed, size, w.table)
	start := time.Now()
	out, err := w.c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(w.bucket), Key: aws.String(key), Body: body,
		ContentLength: aws.Int64(size), ContentType: aws.String("application/octet-stream"),
	})
	rec := Record{Op: OpPut, Start: start, Dur: time.Since(start), Bytes: size}
	if err != nil {
		rec.Err, rec.Bytes = shortError(err), 0
		return object{}, rec
	}
	sum := body.sum()
	if !body.complete() {
		sum = checksum(seed, size, w.table)
	}
	return object{key: key, version: aws.ToString(out.VersionId), seed: seed, size: size, crc: sum}, rec
}

// versionID addresses one version of a versioned run's object, and the
// current object otherwise.
func versionID(o object) *string {
	if o.version == "" || o.version == "null" {
		return nil
	}
	return aws.String(o.version)
}

// get reads o back and checks its size and checksum: a wrong byte is an
// error, as a wrong status is.
func (w *worker) get(ctx context.Context, o object) Record {
	start := time.Now()
	rec := Record{Op: OpGet, Start: start}
	out, err := w.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(w.bucket), Key: aws.String(o.key), VersionId: versionID(o)})
	if err != nil {
		rec.Dur, rec.Err = time.Since(start), shortError(err)
		return rec
	}
	defer out.Body.Close()
	var crc uint32
	for {
		n, err := out.Body.Read(w.buf)
		if n > 0 {
			if rec.TTFB == 0 {
				rec.TTFB = time.Since(start)
			}
			crc = crc32.Update(crc, w.table, w.buf[:n])
			rec.Bytes += int64(n)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			rec.Dur, rec.Err = time.Since(start), "read body: "+err.Error()
			return rec
		}
	}
	rec.Dur = time.Since(start)
	switch {
	case rec.Bytes != o.size:
		rec.Err = fmt.Sprintf("size mismatch: read %d bytes of %s, wrote %d", rec.Bytes, o.key, o.size)
	case crc != o.crc:
		rec.Err = fmt.Sprintf("content mismatch: %s read back with CRC-32C %08x, wrote %08x", o.key, crc, o.crc)
	}
	return rec
}

// stat HEADs o and checks its size.
func (w *worker) stat(ctx context.Context, o object) Record {
	start := time.Now()
	out, err := w.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(w.bucket), Key: aws.String(o.key), VersionId: versionID(o)})
	rec := Record{Op: OpStat, Start: start, Dur: time.Since(start)}
	switch {
	case err != nil:
		rec.Err = shortError(err)
	case aws.ToInt64(out.ContentLength) != o.size:
		rec.Err = fmt.Sprintf("size mismatch: HEAD %s says %d bytes, wrote %d", o.key, aws.ToInt64(out.ContentLength), o.size)
	}
	return rec
}

// del deletes o.
func (w *worker) del(ctx context.Context, o object) Record {
	start := time.Now()
	_, err := w.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(w.bucket), Key: aws.String(o.key), VersionId: versionID(o)})
	rec := Record{Op: OpDelete, Start: start, Dur: time.Since(start)}
	if err != nil {
		rec.Err = shortError(err)
	}
	return rec
}

// list lists the worker's prefix to the end, page by page, and expects want
// objects: one LIST operation is one complete listing.
func (w *worker) list(ctx context.Context, want int) Record {
	start := time.Now()
	rec := Record{Op: OpList, Start: start}
	got := 0
	p := s3.NewListObjectsV2Paginator(w.c, &s3.ListObjectsV2Input{Bucket: aws.String(w.bucket), Prefix: aws.String(w.prefix())})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			rec.Dur, rec.Err = time.Since(start), shortError(err)
			return rec
		}
		if rec.TTFB == 0 {
			rec.TTFB = time.Since(start)
		}
		got += len(page.Contents)
	}
	rec.Dur = time.Since(start)
	if got != want {
		rec.Err = fmt.Sprintf("listed %d objects under %s, want %d", got, w.prefix(), want)
	}
	return rec
}

// multipart uploads key in parts of partSize, one after the other, and
// returns a PUTPART record per part and a MULTIPART record for the whole.
func (w *worker) multipart(ctx context.Context, key string, parts int, partSize int64) []Record {
	start := time.Now()
	whole := Record{Op: OpMultipart, Start: start}
	fail := func(recs []Record, err error) []Record {
		whole.Dur, whole.Err = time.Since(start), shortError(err)
		return append(recs, whole)
	}
	up, err := w.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(w.bucket), Key: aws.String(key)})
	if err != nil {
		return fail(nil, err)
	}
	abort := func() {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		w.c.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: aws.String(w.bucket), Key: aws.String(key), UploadId: up.UploadId})
	}
	size := int64(parts) * partSize
	var recs []Record
	done := make([]types.CompletedPart, 0, parts)
	for i := range parts {
		body := newContent(key, size, w.table)
		body.window(int64(i)*partSize, partSize)
		pstart := time.Now()
		out, err := w.c.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: aws.String(w.bucket), Key: aws.String(key), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: body, ContentLength: aws.Int64(partSize),
		})
		rec := Record{Op: OpPart, Start: pstart, Dur: time.Since(pstart), Bytes: partSize}
		if err != nil {
			rec.Err, rec.Bytes = shortError(err), 0
			abort()
			return fail(append(recs, rec), err)
		}
		recs = append(recs, rec)
		done = append(done, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	_, err = w.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(w.bucket), Key: aws.String(key), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done},
	})
	if err != nil {
		abort()
		return fail(recs, err)
	}
	whole.Dur, whole.Bytes = time.Since(start), size
	return append(recs, whole)
}
