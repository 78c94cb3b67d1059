package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/wolke-cloud/wolke/cluster"
)

// clusterS3 starts a small real cluster (meta, chunk servers, core) and
// returns an SDK client on its gateway: versioning needs the real meta.
func clusterS3(t *testing.T) *s3.Client {
	t.Helper()
	c := cluster.Start(t, cluster.Options{ChunkServers: 3, DataShards: 2, ParityShards: 1})
	root := c.Root()
	return s3.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(root.AccessKey, root.SecretKey, ""),
	}, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(c.S3Endpoint())
		o.UsePathStyle = true
		o.RetryMaxAttempts = 1
		o.DisableLogOutputChecksumValidationSkipped = true
	})
}

// respHeader returns a header of the HTTP response behind an SDK error.
func respHeader(err error, name string) string {
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.Header.Get(name)
	}
	return ""
}

func getString(t *testing.T, c *s3.Client, bucket, key, vid string) (string, error) {
	t.Helper()
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if vid != "" {
		in.VersionId = aws.String(vid)
	}
	b, _, err := getBody(t, c, in)
	return string(b), err
}

// TestS3ObjectFeatures drives versioning, copies, conditional writes and
// tags through the SDK against a real cluster (one, shared by subtests).
func TestS3ObjectFeatures(t *testing.T) {
	c := clusterS3(t)
	t.Run("Versioning", func(t *testing.T) { testVersioning(t, c) })
	t.Run("Suspended", func(t *testing.T) { testSuspended(t, c) })
	t.Run("Copy", func(t *testing.T) { testCopy(t, c) })
	t.Run("UploadPartCopy", func(t *testing.T) { testUploadPartCopy(t, c) })
	t.Run("ConditionalWrites", func(t *testing.T) { testConditionalWrites(t, c) })
	t.Run("Tagging", func(t *testing.T) { testTagging(t, c) })
	t.Run("Checksums", func(t *testing.T) { testChecksums(t, c) })
	t.Run("SSE", func(t *testing.T) { testSSE(t, c) })
	t.Run("FullObjectChecksums", func(t *testing.T) { testFullObjectChecksums(t, c) })
	t.Run("UploadPartCopySSEC", func(t *testing.T) { testUploadPartCopySSEC(t, c) })
	t.Run("StorageClass", func(t *testing.T) { testStorageClass(t, c) })
}

func testVersioning(t *testing.T, c *s3.Client) {
	ctx, b := context.Background(), "versioned"
	mustCreate(t, c, b)
	gv, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(b)})
	if err != nil || gv.Status != "" {
		t.Fatalf("versioning of a new bucket: %v, %v", gv, err)
	}
	_, err = c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(b),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
	if err != nil {
		t.Fatal(err)
	}
	if gv, err = c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(b)}); err != nil || gv.Status != types.BucketVersioningStatusEnabled {
		t.Fatalf("versioning: %v, %v", gv, err)
	}
	v1 := aws.ToString(mustPut(t, c, b, "k", []byte("one")).VersionId)
	v2 := aws.ToString(mustPut(t, c, b, "k", []byte("two")).VersionId)
	if v1 == "" || v2 == "" || v1 == v2 || v1 == "null" {
		t.Fatalf("version ids %q %q", v1, v2)
	}
	for vid, want := range map[string]string{v1: "one", v2: "two", "": "two"} {
		if got, err := getString(t, c, b, "k", vid); err != nil || got != want {
			t.Errorf("get version %q = %q, %v; want %q", vid, got, err, want)
		}
	}
	if _, err := getString(t, c, b, "k", "no-such-version"); code(err) != "NoSuchVersion" {
		t.Errorf("missing version: %v", err)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("k"), VersionId: aws.String(v1)})
	if err != nil || aws.ToString(head.VersionId) != v1 || aws.ToInt64(head.ContentLength) != 3 {
		t.Fatalf("head v1: %v, %v", head, err)
	}

	del, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b), Key: aws.String("k")})
	if err != nil || !aws.ToBool(del.DeleteMarker) || aws.ToString(del.VersionId) == "" {
		t.Fatalf("delete: %+v, %v", del, err)
	}
	marker := aws.ToString(del.VersionId)
	_, err = getString(t, c, b, "k", "")
	if code(err) != "NoSuchKey" || respHeader(err, "X-Amz-Delete-Marker") != "true" || respHeader(err, "X-Amz-Version-Id") != marker {
		t.Errorf("get after delete: %v (marker header %q)", err, respHeader(err, "X-Amz-Delete-Marker"))
	}
	_, err = getString(t, c, b, "k", marker)
	if status(err) != http.StatusMethodNotAllowed || respHeader(err, "X-Amz-Delete-Marker") != "true" {
		t.Errorf("get of the marker: %v", err)
	}
	if got, err := getString(t, c, b, "k", v1); err != nil || got != "one" {
		t.Errorf("old version after delete: %q, %v", got, err)
	}

	mustPut(t, c, b, "a", []byte("a"))
	lv, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(b)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range lv.Versions {
		got = append(got, aws.ToString(v.Key)+"/"+aws.ToString(v.VersionId)+"/"+strconv.FormatBool(aws.ToBool(v.IsLatest)))
	}
	for _, m := range lv.DeleteMarkers {
		got = append(got, "marker:"+aws.ToString(m.Key)+"/"+aws.ToString(m.VersionId)+"/"+strconv.FormatBool(aws.ToBool(m.IsLatest)))
	}
	want := []string{"a/" + aws.ToString(lv.Versions[0].VersionId) + "/true", "k/" + v2 + "/false", "k/" + v1 + "/false", "marker:k/" + marker + "/true"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("versions:\n got %v\nwant %v", got, want)
	}
	// Paging by key and version id markers.
	page, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(b), MaxKeys: aws.Int32(2)})
	if err != nil || !aws.ToBool(page.IsTruncated) || aws.ToString(page.NextKeyMarker) != "k" || aws.ToString(page.NextVersionIdMarker) != marker {
		t.Fatalf("page 1: %+v, %v", page, err)
	}
	page, err = c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(b), MaxKeys: aws.Int32(2),
		KeyMarker: page.NextKeyMarker, VersionIdMarker: page.NextVersionIdMarker})
	if err != nil || aws.ToBool(page.IsTruncated) || len(page.Versions) != 2 || aws.ToString(page.Versions[0].VersionId) != v2 {
		t.Fatalf("page 2: %+v, %v", page, err)
	}

	// Deleting the marker by version id brings the object back.
	del, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b), Key: aws.String("k"), VersionId: aws.String(marker)})
	if err != nil || !aws.ToBool(del.DeleteMarker) || aws.ToString(del.VersionId) != marker {
		t.Fatalf("delete marker: %+v, %v", del, err)
	}
	if got, err := getString(t, c, b, "k", ""); err != nil || got != "two" {
		t.Errorf("after removing the marker: %q, %v", got, err)
	}
	// DeleteObjects with versions.
	dels, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(b), Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("k"), VersionId: aws.String(v1)}, {Key: aws.String("a")},
	}}})
	if err != nil || len(dels.Deleted) != 2 || len(dels.Errors) != 0 {
		t.Fatalf("delete objects: %+v, %v", dels, err)
	}
	for _, d := range dels.Deleted {
		switch aws.ToString(d.Key) {
		case "k":
			if aws.ToString(d.VersionId) != v1 || aws.ToBool(d.DeleteMarker) {
				t.Errorf("deleted k: %+v", d)
			}
		case "a":
			if !aws.ToBool(d.DeleteMarker) || aws.ToString(d.DeleteMarkerVersionId) == "" {
				t.Errorf("deleted a: %+v", d)
			}
		}
	}
	if _, err := getString(t, c, b, "k", v1); code(err) != "NoSuchVersion" {
		t.Errorf("deleted version: %v", err)
	}
}

func testSuspended(t *testing.T, c *s3.Client) {
	ctx, b := context.Background(), "suspended"
	mustCreate(t, c, b)
	setVersioning := func(s types.BucketVersioningStatus) {
		t.Helper()
		if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(b),
			VersioningConfiguration: &types.VersioningConfiguration{Status: s}}); err != nil {
			t.Fatal(err)
		}
	}
	headVersion := func(key string) *string {
		t.Helper()
		h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		return h.VersionId
	}
	// Never versioned: no version id anywhere.
	if v := mustPut(t, c, b, "old", []byte("before")).VersionId; v != nil {
		t.Errorf("version id of a never-versioned bucket: %q", aws.ToString(v))
	}
	if v := headVersion("old"); v != nil {
		t.Errorf("HEAD version id of a never-versioned bucket: %q", aws.ToString(v))
	}
	setVersioning(types.BucketVersioningStatusEnabled)
	if v := aws.ToString(headVersion("old")); v != "null" {
		t.Errorf("HEAD of the null version in a versioned bucket: version id %q, want null", v)
	}
	kept := aws.ToString(mustPut(t, c, b, "k", []byte("kept")).VersionId)
	setVersioning(types.BucketVersioningStatusSuspended)
	if v := aws.ToString(mustPut(t, c, b, "k", []byte("null one")).VersionId); v != "null" {
		t.Errorf("version id under Suspended: %q, want null", v)
	}
	if v := aws.ToString(headVersion("k")); v != "null" {
		t.Errorf("HEAD version id under Suspended: %q, want null", v)
	}
	mustPut(t, c, b, "k", []byte("null two")) // replaces the null version
	lv, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(b), Prefix: aws.String("k")})
	if err != nil || len(lv.Versions) != 2 {
		t.Fatalf("versions: %+v, %v", lv, err)
	}
	if aws.ToString(lv.Versions[0].VersionId) != "null" || aws.ToString(lv.Versions[1].VersionId) != kept {
		t.Errorf("versions = %s, %s", aws.ToString(lv.Versions[0].VersionId), aws.ToString(lv.Versions[1].VersionId))
	}
	if got, err := getString(t, c, b, "k", "null"); err != nil || got != "null two" {
		t.Errorf("null version: %q, %v", got, err)
	}
	_, err = c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(b),
		VersioningConfiguration: &types.VersioningConfiguration{Status: "On"}})
	if code(err) != "IllegalVersioningConfigurationException" {
		t.Errorf("bad status: %v", err)
	}
	testVersionsDelimiter(t, c, b)
}

// testVersionsDelimiter lists versions grouped by "/" in pages of one entry.
func testVersionsDelimiter(t *testing.T, c *s3.Client, b string) {
	ctx := context.Background()
	for _, k := range []string{"d/x", "d/y/z", "e/1", "e/2"} {
		mustPut(t, c, b, k, []byte(k))
	}
	var got []string
	in := &s3.ListObjectVersionsInput{Bucket: aws.String(b), Delimiter: aws.String("/"), MaxKeys: aws.Int32(1)}
	for range 20 {
		lv, err := c.ListObjectVersions(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(lv.Delimiter) != "/" {
			t.Errorf("Delimiter = %q", aws.ToString(lv.Delimiter))
		}
		for _, p := range lv.CommonPrefixes {
			got = append(got, "cp:"+aws.ToString(p.Prefix))
		}
		for _, v := range lv.Versions {
			got = append(got, aws.ToString(v.Key))
		}
		if !aws.ToBool(lv.IsTruncated) {
			break
		}
		in.KeyMarker, in.VersionIdMarker = lv.NextKeyMarker, lv.NextVersionIdMarker
	}
	want := []string{"cp:d/", "cp:e/", "k", "k", "old"}
	if !slices.Equal(got, want) {
		t.Errorf("versions by delimiter: %v, want %v", got, want)
	}
}

func testCopy(t *testing.T, c *s3.Client) {
	ctx, b := context.Background(), "copies"
	mustCreate(t, c, b)
	big := bytes.Repeat([]byte("0123456789abcdef"), 40<<10) // 640 KiB: striped, not inline
	src := "dir/a b+c?d%e"
	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String(src), Body: bytes.NewReader(big),
		ContentType: aws.String("text/x-test"), Metadata: map[string]string{"color": "blue"}, Tagging: aws.String("t=1")})
	if err != nil {
		t.Fatal(err)
	}
	cp, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(b), Key: aws.String("copy"),
		CopySource: aws.String(b + "/" + url.PathEscape(src))})
	if err != nil || aws.ToString(cp.CopyObjectResult.ETag) != aws.ToString(put.ETag) {
		t.Fatalf("copy: %+v, %v", cp, err)
	}
	data, out, err := getBody(t, c, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("copy")})
	if err != nil || !bytes.Equal(data, big) || aws.ToString(out.ContentType) != "text/x-test" || out.Metadata["color"] != "blue" || aws.ToInt32(out.TagCount) != 1 {
		t.Fatalf("copied object: %d bytes, %+v, %v", len(data), out, err)
	}
	// REPLACE takes the request's metadata.
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(b), Key: aws.String("copy"),
		CopySource: aws.String(b + "/" + url.PathEscape(src)), MetadataDirective: types.MetadataDirectiveReplace,
		ContentType: aws.String("text/plain"), Metadata: map[string]string{"shape": "round"}})
	if err != nil {
		t.Fatal(err)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("copy")})
	if err != nil || aws.ToString(head.ContentType) != "text/plain" || !maps.Equal(head.Metadata, map[string]string{"shape": "round"}) {
		t.Fatalf("replaced metadata: %+v, %v", head, err)
	}
	// Onto itself: only with REPLACE.
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(b), Key: aws.String("copy"), CopySource: aws.String(b + "/copy")})
	if code(err) != "InvalidRequest" {
		t.Errorf("copy onto itself: %v", err)
	}
	if _, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(b), Key: aws.String("copy"), CopySource: aws.String(b + "/copy"),
		MetadataDirective: types.MetadataDirectiveReplace, Metadata: map[string]string{"new": "yes"}}); err != nil {
		t.Errorf("copy onto itself with REPLACE: %v", err)
	}
	// Source conditions.
	for name, in := range map[string]*s3.CopyObjectInput{
		"if-match":       {CopySourceIfMatch: aws.String(`"nope"`)},
		"if-none-match":  {CopySourceIfNoneMatch: put.ETag},
		"if-unmodified":  {CopySourceIfUnmodifiedSince: aws.Time(head.LastModified.Add(-24 * 3600e9))},
		"if-modified":    {CopySourceIfModifiedSince: aws.Time(head.LastModified.Add(24 * 3600e9))},
		"missing source": {CopySource: aws.String(b + "/nope")},
	} {
		in.Bucket, in.Key = aws.String(b), aws.String("cond")
		if in.CopySource == nil {
			in.CopySource = aws.String(b + "/" + url.PathEscape(src))
		}
		_, err := c.CopyObject(ctx, in)
		want := "PreconditionFailed"
		if name == "missing source" {
			want = "NoSuchKey"
		}
		if code(err) != want {
			t.Errorf("%s: %v, want %s", name, err, want)
		}
	}
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(b), Key: aws.String("cond"),
		CopySource: aws.String(b + "/" + url.PathEscape(src)), CopySourceIfMatch: put.ETag}); err != nil {
		t.Errorf("if-match that holds: %v", err)
	}

	// A source version by id.
	vb := "copies-versioned"
	mustCreate(t, c, vb)
	if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(vb),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	old := aws.ToString(mustPut(t, c, vb, "k", []byte("old")).VersionId)
	mustPut(t, c, vb, "k", []byte("new"))
	cp, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(vb), Key: aws.String("k"),
		CopySource: aws.String(vb + "/k?versionId=" + old)})
	if err != nil || aws.ToString(cp.CopySourceVersionId) != old || aws.ToString(cp.VersionId) == "" {
		t.Fatalf("copy of an old version onto the latest: %+v, %v", cp, err)
	}
	if got, err := getString(t, c, vb, "k", ""); err != nil || got != "old" {
		t.Errorf("restored: %q, %v", got, err)
	}
}

func testUploadPartCopy(t *testing.T, c *s3.Client) {
	ctx, b := context.Background(), "partcopy"
	mustCreate(t, c, b)
	src := bytes.Repeat([]byte("wolke-part-copy!"), (6<<20)/16) // 6 MiB
	mustPut(t, c, b, "src", src)
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("dst")})
	if err != nil {
		t.Fatal(err)
	}
	var parts []types.CompletedPart
	for i, rng := range []string{"bytes=0-5242879", "bytes=5242880-6291455"} {
		out, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String(b), Key: aws.String("dst"), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), CopySource: aws.String(b + "/src"), CopySourceRange: aws.String(rng)})
		if err != nil {
			t.Fatalf("part %d: %v", i+1, err)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.CopyPartResult.ETag})
	}
	_, err = c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String(b), Key: aws.String("dst"), UploadId: up.UploadId,
		PartNumber: aws.Int32(3), CopySource: aws.String(b + "/src"), CopySourceRange: aws.String("bytes=0-99999999")})
	if err == nil {
		t.Errorf("range past the end of the source: no error")
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("dst"),
		UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		t.Fatal(err)
	}
	data, _, err := getBody(t, c, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("dst")})
	if err != nil || !bytes.Equal(data, src) {
		t.Fatalf("assembled copy: %d bytes, %v", len(data), err)
	}
}

func testConditionalWrites(t *testing.T, c *s3.Client) {
	ctx, b := context.Background(), "conditional"
	mustCreate(t, c, b)
	put := func(key, ifMatch, ifNoneMatch string) (*s3.PutObjectOutput, error) {
		in := &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String(key), Body: strings.NewReader("x")}
		if ifMatch != "" {
			in.IfMatch = aws.String(ifMatch)
		}
		if ifNoneMatch != "" {
			in.IfNoneMatch = aws.String(ifNoneMatch)
		}
		return c.PutObject(ctx, in)
	}
	first, err := put("k", "", "*")
	if err != nil {
		t.Fatalf("If-None-Match * on a new key: %v", err)
	}
	tests := []struct {
		name, key, ifMatch, ifNoneMatch, code string
	}{
		{"none-match on existing", "k", "", "*", "PreconditionFailed"},
		{"match differs", "k", `"0123"`, "", "PreconditionFailed"},
		{"match on missing key", "missing", `"0123"`, "", "NoSuchKey"},
		{"match holds", "k", aws.ToString(first.ETag), "", ""},
	}
	for _, tc := range tests {
		_, err := put(tc.key, tc.ifMatch, tc.ifNoneMatch)
		if code(err) != tc.code {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.code)
		}
	}
	// CompleteMultipartUpload checks them too.
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	part, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(b), Key: aws.String("k"), UploadId: up.UploadId,
		PartNumber: aws.Int32(1), Body: strings.NewReader("part")})
	if err != nil {
		t.Fatal(err)
	}
	complete := &s3.CompleteMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("k"), UploadId: up.UploadId, IfNoneMatch: aws.String("*"),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: part.ETag}}}}
	if _, err := c.CompleteMultipartUpload(ctx, complete); code(err) != "PreconditionFailed" {
		t.Errorf("complete with If-None-Match * on an existing key: %v", err)
	}
	complete.IfNoneMatch = nil
	if _, err := c.CompleteMultipartUpload(ctx, complete); err != nil {
		t.Errorf("complete without condition after the failed one: %v", err)
	}
}

func testTagging(t *testing.T, c *s3.Client) {
	ctx, b := context.Background(), "tags"
	mustCreate(t, c, b)
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("k"), Body: strings.NewReader("x"),
		Tagging: aws.String("project=wolke&tier=hot%20data")}); err != nil {
		t.Fatal(err)
	}
	tagsOf := func(key string) map[string]string {
		t.Helper()
		out, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(b), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("GetObjectTagging: %v", err)
		}
		m := map[string]string{}
		for _, tg := range out.TagSet {
			m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
		}
		return m
	}
	if got := tagsOf("k"); !maps.Equal(got, map[string]string{"project": "wolke", "tier": "hot data"}) {
		t.Errorf("tags from the header: %v", got)
	}
	if _, out, err := getBody(t, c, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("k")}); err != nil || aws.ToInt32(out.TagCount) != 2 {
		t.Errorf("tag count on GET: %v", err)
	}
	if _, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String(b), Key: aws.String("k"),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("only"), Value: aws.String("one")}}}}); err != nil {
		t.Fatal(err)
	}
	if got := tagsOf("k"); !maps.Equal(got, map[string]string{"only": "one"}) {
		t.Errorf("tags after put: %v", got)
	}
	var eleven []types.Tag
	for i := range 11 {
		eleven = append(eleven, types.Tag{Key: aws.String("k" + strconv.Itoa(i)), Value: aws.String("v")})
	}
	for name, set := range map[string][]types.Tag{
		"eleven":     eleven,
		"long key":   {{Key: aws.String(strings.Repeat("k", 129)), Value: aws.String("v")}},
		"long value": {{Key: aws.String("k"), Value: aws.String(strings.Repeat("v", 257))}},
		"duplicate":  {{Key: aws.String("k"), Value: aws.String("1")}, {Key: aws.String("k"), Value: aws.String("2")}},
	} {
		_, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String(b), Key: aws.String("k"), Tagging: &types.Tagging{TagSet: set}})
		if code(err) != "InvalidTag" {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("bad"), Body: strings.NewReader("x"),
		Tagging: aws.String("a=1&a=2")}); code(err) != "InvalidTag" {
		t.Errorf("duplicate tag in the header: %v", err)
	}
	if _, err := c.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: aws.String(b), Key: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	if got := tagsOf("k"); len(got) != 0 {
		t.Errorf("tags after delete: %v", got)
	}
	if _, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(b), Key: aws.String("nope")}); code(err) != "NoSuchKey" {
		t.Errorf("tags of a missing key: %v", err)
	}
}
