package e2e

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// s3ChecksumBoto3Script drives multipart checksums (COMPOSITE SHA-256 and,
// through the x-amz-checksum-type header Debian's botocore cannot send
// itself, FULL_OBJECT CRC32), UploadPartCopy between SSE-C objects, and
// the null version of a Suspended bucket with boto3. It prints OK at the
// end and exits non-zero on a mismatch.
const s3ChecksumBoto3Script = boto3Prelude + `
b = "checksums-boto3"
s3.create_bucket(Bucket=b)
parts = [b"a" * (5 << 20), b"the last part"]
whole = b"".join(parts)

# COMPOSITE SHA-256: the checksum of the parts' checksums, "-2".
up = s3.create_multipart_upload(Bucket=b, Key="composite", ChecksumAlgorithm="SHA256")["UploadId"]
check(error_code(s3.upload_part, Bucket=b, Key="composite", UploadId=up, PartNumber=1, Body=parts[0]) == "InvalidRequest",
      "a part without the upload's checksum was taken")
done, digests = [], b""
for i, body in enumerate(parts):
    r = s3.upload_part(Bucket=b, Key="composite", UploadId=up, PartNumber=i + 1, Body=body, ChecksumAlgorithm="SHA256")
    digest = hashlib.sha256(body).digest()
    check(r["ChecksumSHA256"] == base64.b64encode(digest).decode(), "part %d sha256" % (i + 1))
    digests += digest
    done.append({"PartNumber": i + 1, "ETag": r["ETag"], "ChecksumSHA256": r["ChecksumSHA256"]})
s3.complete_multipart_upload(Bucket=b, Key="composite", UploadId=up, MultipartUpload={"Parts": done})
h = s3.head_object(Bucket=b, Key="composite", ChecksumMode="ENABLED")
want = base64.b64encode(hashlib.sha256(digests).digest()).decode() + "-2"
check(h.get("ChecksumSHA256") == want, "composite sha256 %s, want %s" % (h.get("ChecksumSHA256"), want))
check(h["ResponseMetadata"]["HTTPHeaders"].get("x-amz-checksum-type") == "COMPOSITE", "composite type")

# FULL_OBJECT CRC32: the CRC of the whole object.
def full_object(request, **kwargs):
    request.headers["x-amz-checksum-type"] = "FULL_OBJECT"
s3.meta.events.register("before-sign.s3.CreateMultipartUpload", full_object)
s3.meta.events.register("before-sign.s3.CompleteMultipartUpload", full_object)
r = s3.create_multipart_upload(Bucket=b, Key="full", ChecksumAlgorithm="CRC32")
check(r["ResponseMetadata"]["HTTPHeaders"].get("x-amz-checksum-type") == "FULL_OBJECT", "create: %s" % r["ResponseMetadata"]["HTTPHeaders"])
up, done = r["UploadId"], []
for i, body in enumerate(parts):
    r = s3.upload_part(Bucket=b, Key="full", UploadId=up, PartNumber=i + 1, Body=body, ChecksumAlgorithm="CRC32")
    done.append({"PartNumber": i + 1, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]})
crc = base64.b64encode(struct.pack(">I", zlib.crc32(whole))).decode()
r = s3.complete_multipart_upload(Bucket=b, Key="full", UploadId=up, MultipartUpload={"Parts": done})
check(r.get("ChecksumCRC32") == crc, "complete crc32 %s, want %s" % (r.get("ChecksumCRC32"), crc))
h = s3.head_object(Bucket=b, Key="full", ChecksumMode="ENABLED")
check(h.get("ChecksumCRC32") == crc and h["ResponseMetadata"]["HTTPHeaders"].get("x-amz-checksum-type") == "FULL_OBJECT",
      "full-object head: %s" % h["ResponseMetadata"]["HTTPHeaders"])
check(s3.get_object(Bucket=b, Key="full")["Body"].read() == whole, "full-object content")
check(error_code(s3.create_multipart_upload, Bucket=b, Key="refused", ChecksumAlgorithm="SHA256") == "InvalidRequest",
      "FULL_OBJECT with SHA256 was taken")
s3.meta.events.unregister("before-sign.s3.CreateMultipartUpload", full_object)
s3.meta.events.unregister("before-sign.s3.CompleteMultipartUpload", full_object)

# UploadPartCopy from an SSE-C object into an upload with another key.
k1, k2 = bytes(range(32)), bytes(range(32, 64))
src = os.urandom(300 << 10)
s3.put_object(Bucket=b, Key="ssec-src", Body=src, SSECustomerAlgorithm="AES256", SSECustomerKey=k1)
up = s3.create_multipart_upload(Bucket=b, Key="ssec-dst", SSECustomerAlgorithm="AES256", SSECustomerKey=k2)["UploadId"]
p1 = s3.upload_part(Bucket=b, Key="ssec-dst", UploadId=up, PartNumber=1, Body=parts[0], SSECustomerAlgorithm="AES256", SSECustomerKey=k2)
check(error_code(s3.upload_part_copy, Bucket=b, Key="ssec-dst", UploadId=up, PartNumber=2, CopySource={"Bucket": b, "Key": "ssec-src"},
                 SSECustomerAlgorithm="AES256", SSECustomerKey=k2) == "InvalidRequest", "part copy without the source key")
p2 = s3.upload_part_copy(Bucket=b, Key="ssec-dst", UploadId=up, PartNumber=2, CopySource={"Bucket": b, "Key": "ssec-src"},
                         CopySourceRange="bytes=100-200099", CopySourceSSECustomerAlgorithm="AES256", CopySourceSSECustomerKey=k1,
                         SSECustomerAlgorithm="AES256", SSECustomerKey=k2)
s3.complete_multipart_upload(Bucket=b, Key="ssec-dst", UploadId=up, MultipartUpload={"Parts": [
    {"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]}]})
g = s3.get_object(Bucket=b, Key="ssec-dst", SSECustomerAlgorithm="AES256", SSECustomerKey=k2)
check(g["Body"].read() == parts[0] + src[100:200100], "content of the SSE-C part copy")

# Suspended versioning: PUT and DELETE make the null version.
s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
kept = s3.put_object(Bucket=b, Key="susp", Body=b"kept")["VersionId"]
s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"})
r = s3.put_object(Bucket=b, Key="susp", Body=b"null one")
check(r.get("VersionId") == "null" and r["ResponseMetadata"]["HTTPHeaders"].get("x-amz-version-id") == "null", "suspended put: %s" % r)
d = s3.delete_object(Bucket=b, Key="susp")
check(d.get("DeleteMarker") is True and d.get("VersionId") == "null", "suspended delete: %s" % d)
lv = s3.list_object_versions(Bucket=b, Prefix="susp")
check([v["VersionId"] for v in lv.get("Versions", [])] == [kept], "versions after the suspended delete: %s" % lv.get("Versions"))
check([(m["VersionId"], m["IsLatest"]) for m in lv.get("DeleteMarkers", [])] == [("null", True)], "markers: %s" % lv.get("DeleteMarkers"))
d = s3.delete_object(Bucket=b, Key="susp", VersionId="null")
check(d.get("DeleteMarker") is True and d.get("VersionId") == "null", "delete of the null marker: %s" % d)
check(s3.get_object(Bucket=b, Key="susp")["Body"].read() == b"kept", "the kept version is current again")
print("OK")
`

// TestS3Checksums drives multipart checksums (COMPOSITE and FULL_OBJECT),
// UploadPartCopy with SSE-C and Suspended versioning with boto3, and
// FULL_OBJECT CRC32 with aws-cli v1 (CRC-64/NVME needs botocore[crt]) (its botocore sends
// x-amz-checksum-type), against the real binary.
func TestS3Checksums(t *testing.T) {
	wolkeBin(t) // skip or fail before anything else
	clis := awsCLIs(t)
	needBoto3(t)
	c := StartCluster(t)
	t.Run("boto3", func(t *testing.T) {
		out := c.Python(t, 2*time.Minute, t.TempDir(), s3ChecksumBoto3Script)
		if !strings.Contains(out, "OK") {
			t.Fatalf("boto3 script did not finish:\n%s", out)
		}
	})
	for _, cli := range clis {
		t.Run("awscli-"+cli.name, func(t *testing.T) { awsFullObject(t, c, cli) })
		t.Run("awscli-cp-"+cli.name, func(t *testing.T) { awsCopyChecksum(t, c, cli) })
	}
}

// awsCopyChecksum uploads a multipart file with aws s3 cp
// --checksum-algorithm CRC32 (COMPOSITE: every part carries its CRC32 and
// the complete lists them) and reads it back.
func awsCopyChecksum(t *testing.T, c *Cluster, cli awsCLI) {
	const short = time.Minute
	work, b := t.TempDir(), "cp-checksum-"+cli.name
	if out, _ := c.AWSErr(t, cli, short, work, "s3", "cp", "help"); !strings.Contains(out, "checksum-algorithm") {
		t.Skipf("%s has no s3 cp --checksum-algorithm", cli.version)
	}
	f := localFile{key: "mp.bin", path: filepath.Join(work, "mp.bin"), size: 20 << 20}
	f.sum = writeRandomFile(t, f.path, f.size, 11)
	c.AWS(t, cli, short, work, "s3", "mb", "s3://"+b)
	c.AWS(t, cli, short, work, "s3", "cp", "--no-progress", "--checksum-algorithm", "CRC32", f.path, "s3://"+b+"/"+f.key)
	var head struct{ ChecksumCRC32, ChecksumType string }
	out := c.AWS(t, cli, short, work, "s3api", "head-object", "--bucket", b, "--key", f.key, "--checksum-mode", "ENABLED", "--output", "json")
	if err := json.Unmarshal([]byte(out), &head); err != nil || !strings.HasSuffix(head.ChecksumCRC32, "-3") {
		t.Errorf("head-object: %+v, %v\n%s", head, err, out)
	}
	dl := filepath.Join(work, "dl.bin")
	c.AWS(t, cli, short, work, "s3", "cp", "--no-progress", "s3://"+b+"/"+f.key, dl)
	if got := fileSHA256(t, dl); got != f.sum {
		t.Errorf("downloaded content differs: %s, want %s", got, f.sum)
	}
}

// awsFullObject uploads two parts with --checksum-type FULL_OBJECT and
// CRC32 through s3api and checks the object's checksum.
func awsFullObject(t *testing.T, c *Cluster, cli awsCLI) {
	const short = time.Minute
	work, b := t.TempDir(), "fullobject-"+cli.name
	// aws-cli v2 2.9 predates --checksum-type.
	if out, _ := c.AWSErr(t, cli, short, work, "s3api", "create-multipart-upload", "help"); !strings.Contains(out, "checksum-type") {
		t.Skipf("%s has no --checksum-type", cli.version)
	}
	bodies := [][]byte{[]byte(strings.Repeat("0123456789abcdef", (5<<20)/16)), []byte("last part")}
	var all []byte
	for i, body := range bodies {
		all = append(all, body...)
		if err := os.WriteFile(filepath.Join(work, "part"+string(rune('1'+i))), body, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	jsonOut := func(v any, args ...string) {
		t.Helper()
		out := c.AWS(t, cli, short, work, append(args, "--output", "json")...)
		if err := json.Unmarshal([]byte(out), v); err != nil {
			t.Fatalf("%s: %v\n%s", args[1], err, out)
		}
	}
	c.AWS(t, cli, short, work, "s3api", "create-bucket", "--bucket", b)
	for _, refused := range [][2]string{{"SHA256", "FULL_OBJECT"}, {"CRC64NVME", "COMPOSITE"}} {
		out, err := c.AWSErr(t, cli, short, work, "s3api", "create-multipart-upload", "--bucket", b, "--key", "refused",
			"--checksum-algorithm", refused[0], "--checksum-type", refused[1])
		if err == nil || !strings.Contains(out, "InvalidRequest") {
			t.Errorf("%s with %s: %v\n%s", refused[1], refused[0], err, out)
		}
	}
	var up struct{ UploadId, ChecksumType string }
	jsonOut(&up, "s3api", "create-multipart-upload", "--bucket", b, "--key", "obj",
		"--checksum-algorithm", "CRC32", "--checksum-type", "FULL_OBJECT")
	if up.UploadId == "" || up.ChecksumType != "FULL_OBJECT" {
		t.Fatalf("create-multipart-upload: %+v", up)
	}
	type part struct {
		PartNumber    int
		ETag          string
		ChecksumCRC32 string
	}
	var done struct{ Parts []part }
	for i := range bodies {
		var p part
		jsonOut(&p, "s3api", "upload-part", "--bucket", b, "--key", "obj", "--upload-id", up.UploadId,
			"--part-number", string(rune('1'+i)), "--body", "part"+string(rune('1'+i)), "--checksum-algorithm", "CRC32")
		p.PartNumber = i + 1
		done.Parts = append(done.Parts, p)
	}
	doc, _ := json.Marshal(done)
	if err := os.WriteFile(filepath.Join(work, "parts.json"), doc, 0o600); err != nil {
		t.Fatal(err)
	}
	c.AWS(t, cli, short, work, "s3api", "complete-multipart-upload", "--bucket", b, "--key", "obj", "--upload-id", up.UploadId,
		"--checksum-type", "FULL_OBJECT", "--multipart-upload", "file://parts.json")
	want := base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(all)))
	var head struct{ ChecksumCRC32, ChecksumType string }
	jsonOut(&head, "s3api", "head-object", "--bucket", b, "--key", "obj", "--checksum-mode", "ENABLED")
	if head.ChecksumCRC32 != want || head.ChecksumType != "FULL_OBJECT" {
		t.Errorf("head-object: %+v, want CRC32 %s FULL_OBJECT", head, want)
	}
	dl := filepath.Join(work, "dl")
	c.AWS(t, cli, short, work, "s3api", "get-object", "--bucket", b, "--key", "obj", "--checksum-mode", "ENABLED", dl)
	if got, _ := os.ReadFile(dl); string(got) != string(all) {
		t.Errorf("get-object: %d bytes, want %d", len(got), len(all))
	}
}
