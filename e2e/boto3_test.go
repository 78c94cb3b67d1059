package e2e

import (
	"strings"
	"testing"
	"time"
)

// boto3Script runs against WOLKE_ENDPOINT with the credentials in the
// environment; it prints OK at the end and exits non-zero on any mismatch.
const boto3Script = `
import io, os, sys
import boto3, botocore
from botocore.config import Config
from boto3.s3.transfer import TransferConfig

def check(cond, msg):
    if not cond:
        print("FAIL:", msg, file=sys.stderr)
        sys.exit(1)

def data(n, seed):
    r = __import__("random").Random(seed)
    return r.randbytes(n)

s3 = boto3.client("s3", endpoint_url=os.environ["WOLKE_ENDPOINT"], region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}))
b = "boto3-test"
s3.create_bucket(Bucket=b)
check(b in [x["Name"] for x in s3.list_buckets()["Buckets"]], "bucket not in list_buckets")

want = {}
for i, n in enumerate([0, 1, 100 * 1024, 5 * 1024 * 1024 + 3]):
    key = "obj/%02d-%d" % (i, n)
    body = data(n, i)
    r = s3.put_object(Bucket=b, Key=key, Body=body)
    check(r["ResponseMetadata"]["HTTPStatusCode"] == 200, "put %s" % key)
    want[key] = body

big = data(12 * 1024 * 1024 + 5, 99)
s3.upload_fileobj(io.BytesIO(big), b, "mp/big",
                  Config=TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024))
want["mp/big"] = big

for key, body in want.items():
    got = s3.get_object(Bucket=b, Key=key)["Body"].read()
    check(got == body, "get %s: %d bytes back, %d put" % (key, len(got), len(body)))
    h = s3.head_object(Bucket=b, Key=key)
    check(h["ContentLength"] == len(body), "head %s: ContentLength %d" % (key, h["ContentLength"]))

part = s3.get_object(Bucket=b, Key="mp/big", Range="bytes=100-199")["Body"].read()
check(part == big[100:200], "range get")

keys = []
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=b, PaginationConfig={"PageSize": 2}):
    keys += [o["Key"] for o in page.get("Contents", [])]
check(keys == sorted(want), "paginated list: %s" % keys)
r = s3.list_objects_v2(Bucket=b, Delimiter="/")
check([p["Prefix"] for p in r.get("CommonPrefixes", [])] == ["mp/", "obj/"], "delimiter list: %s" % r.get("CommonPrefixes"))
r = s3.list_objects_v2(Bucket=b, Prefix="obj/")
check(r["KeyCount"] == 4, "prefix list KeyCount %d" % r["KeyCount"])

try:
    s3.get_object(Bucket=b, Key="no/such/key")
    check(False, "get of a missing key succeeded")
except botocore.exceptions.ClientError as e:
    check(e.response["Error"]["Code"] == "NoSuchKey", "missing key: %s" % e.response["Error"])

for key in want:
    s3.delete_object(Bucket=b, Key=key)
check(s3.list_objects_v2(Bucket=b)["KeyCount"] == 0, "bucket not empty after deletes")
s3.delete_bucket(Bucket=b)
check(b not in [x["Name"] for x in s3.list_buckets()["Buckets"]], "bucket still listed after delete")
print("OK")
`

// TestBoto3 runs a boto3 script: put/get/head, multipart upload, ranged
// get, paginated and delimited listing, NoSuchKey, deletes.
func TestBoto3(t *testing.T) {
	wolkeBin(t) // skip or fail before anything else
	needBoto3(t)
	c := StartCluster(t)
	out := c.Python(t, 3*time.Minute, t.TempDir(), boto3Script)
	if !strings.Contains(out, "OK") {
		t.Fatalf("boto3 script did not finish:\n%s", out)
	}
}
