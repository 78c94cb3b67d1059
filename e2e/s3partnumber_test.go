package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// s3PartNumberScript reads the parts of a (segmented) multipart object and
// of a single PUT with get_object(PartNumber=): each part's bytes, 206 with
// Content-Range, PartsCount, the part's own SHA-256 (which botocore
// verifies), and InvalidPartNumber (416) past the last part.
const s3PartNumberScript = boto3Prelude + `
b = "part-numbers"
s3.create_bucket(Bucket=b)
parts = [os.urandom(5 << 20), os.urandom((5 << 20) + 1), os.urandom(1000)]
sha = lambda p: base64.b64encode(hashlib.sha256(p).digest()).decode()
up = s3.create_multipart_upload(Bucket=b, Key="mp", ChecksumAlgorithm="SHA256")["UploadId"]
done = []
for i, p in enumerate(parts):
    r = s3.upload_part(Bucket=b, Key="mp", UploadId=up, PartNumber=i + 1, Body=p, ChecksumAlgorithm="SHA256")
    done.append({"PartNumber": i + 1, "ETag": r["ETag"], "ChecksumSHA256": r["ChecksumSHA256"]})
s3.complete_multipart_upload(Bucket=b, Key="mp", UploadId=up, MultipartUpload={"Parts": done})
total, off = sum(len(p) for p in parts), 0
for i, p in enumerate(parts):
    r = s3.get_object(Bucket=b, Key="mp", PartNumber=i + 1, ChecksumMode="ENABLED")
    body = r["Body"].read()
    check(body == p, "part %d: %d bytes" % (i + 1, len(body)))
    check(r["ResponseMetadata"]["HTTPStatusCode"] == 206, "part %d status %d" % (i + 1, r["ResponseMetadata"]["HTTPStatusCode"]))
    check(r.get("PartsCount") == 3, "part %d PartsCount %s" % (i + 1, r.get("PartsCount")))
    want = "bytes %d-%d/%d" % (off, off + len(p) - 1, total)
    check(r.get("ContentRange") == want, "part %d ContentRange %s, want %s" % (i + 1, r.get("ContentRange"), want))
    check(r.get("ChecksumSHA256") == sha(p), "part %d checksum %s, want %s" % (i + 1, r.get("ChecksumSHA256"), sha(p)))
    h = s3.head_object(Bucket=b, Key="mp", PartNumber=i + 1)
    check(h["ContentLength"] == len(p) and h.get("PartsCount") == 3, "head part %d: %s %s" % (i + 1, h["ContentLength"], h.get("PartsCount")))
    off += len(p)
check(error_of(s3.get_object, Bucket=b, Key="mp", PartNumber=4) == (416, "InvalidPartNumber"), "part 4 of 3")
check("PartsCount" not in s3.head_object(Bucket=b, Key="mp"), "PartsCount without a part number")

one = os.urandom(100)
s3.put_object(Bucket=b, Key="single", Body=one, ChecksumAlgorithm="SHA256")
r = s3.get_object(Bucket=b, Key="single", PartNumber=1, ChecksumMode="ENABLED")
check(r["Body"].read() == one and r["ResponseMetadata"]["HTTPStatusCode"] == 206, "single part 1")
check(r.get("ContentRange") == "bytes 0-99/100" and "PartsCount" not in r, "single part 1: %s %s" % (r.get("ContentRange"), r.get("PartsCount")))
check(r.get("ChecksumSHA256") == sha(one), "single part 1 checksum")
check(error_of(s3.get_object, Bucket=b, Key="single", PartNumber=2) == (416, "InvalidPartNumber"), "single part 2")
print("OK")
`

// TestS3PartNumber proves GET/HEAD ?partNumber=N on segmented multipart
// objects and single PUTs with boto3 and aws-cli (v1 and v2).
func TestS3PartNumber(t *testing.T) {
	wolkeBin(t)
	needBoto3(t)
	c := StartCluster(t)
	out := c.Python(t, 2*time.Minute, t.TempDir(), s3PartNumberScript)
	if !strings.Contains(out, "OK") {
		t.Fatalf("part number script did not finish:\n%s", out)
	}
	for _, cli := range awsCLIs(t) {
		out := c.AWS(t, cli, time.Minute, t.TempDir(), "s3api", "head-object", "--bucket", "part-numbers", "--key", "mp", "--part-number", "2")
		var h struct {
			ContentLength int64
			PartsCount    int
		}
		if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &h); err != nil || h.ContentLength != 5<<20+1 || h.PartsCount != 3 {
			t.Errorf("%s head-object --part-number 2: %+v %v\n%s", cli.name, h, err, out)
		}
		out, err := c.AWSErr(t, cli, time.Minute, t.TempDir(), "s3api", "head-object", "--bucket", "part-numbers", "--key", "mp", "--part-number", "4")
		if err == nil || !strings.Contains(out, "416") {
			t.Errorf("%s head-object --part-number 4 of 3: %v\n%s", cli.name, err, out)
		}
	}
}
