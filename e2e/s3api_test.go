package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// s3apiBoto3Script drives versioning, copies, tags, conditional writes and
// server-side encryption with boto3; it prints OK at the end and exits non-zero on a mismatch.
const s3apiBoto3Script = `
import os, sys
import boto3, botocore
from botocore.config import Config

def check(cond, msg):
    if not cond:
        print("FAIL:", msg, file=sys.stderr)
        sys.exit(1)

s3 = boto3.client("s3", endpoint_url=os.environ["WOLKE_ENDPOINT"], region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
b = "s3api-boto3"
s3.create_bucket(Bucket=b)
s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
check(s3.get_bucket_versioning(Bucket=b).get("Status") == "Enabled", "versioning status")
v1 = s3.put_object(Bucket=b, Key="k", Body=b"one", Tagging="a=1")["VersionId"]
v2 = s3.put_object(Bucket=b, Key="k", Body=b"two")["VersionId"]
check(v1 != v2, "version ids differ")
check(s3.get_object(Bucket=b, Key="k", VersionId=v1)["Body"].read() == b"one", "get v1")
tags = s3.get_object_tagging(Bucket=b, Key="k", VersionId=v1)["TagSet"]
check(tags == [{"Key": "a", "Value": "1"}], "tags of v1: %s" % tags)
r = s3.copy_object(Bucket=b, Key="copy", CopySource={"Bucket": b, "Key": "k", "VersionId": v1})
check(r["CopySourceVersionId"] == v1, "copy source version")
check(s3.get_object(Bucket=b, Key="copy")["Body"].read() == b"one", "copy content")
s3.put_object_tagging(Bucket=b, Key="copy", Tagging={"TagSet": [{"Key": "x", "Value": "y z"}]})
check(s3.get_object_tagging(Bucket=b, Key="copy")["TagSet"] == [{"Key": "x", "Value": "y z"}], "tags of copy")
d = s3.delete_object(Bucket=b, Key="k")
check(d.get("DeleteMarker") is True, "delete marker: %s" % d)
try:
    s3.get_object(Bucket=b, Key="k")
    check(False, "get after delete succeeded")
except botocore.exceptions.ClientError as e:
    check(e.response["Error"]["Code"] == "NoSuchKey", "get after delete: %s" % e.response["Error"])
lv = s3.list_object_versions(Bucket=b, Prefix="k")
check([v["VersionId"] for v in lv["Versions"]] == [v2, v1], "versions: %s" % lv["Versions"])
check([m["VersionId"] for m in lv["DeleteMarkers"]] == [d["VersionId"]] and lv["DeleteMarkers"][0]["IsLatest"], "markers")
# Debian's botocore predates the IfNoneMatch parameter: set the header.
def if_none_match(request, **kwargs):
    request.headers["If-None-Match"] = "*"
s3.meta.events.register("before-sign.s3.PutObject", if_none_match)
try:
    s3.put_object(Bucket=b, Key="copy", Body=b"again")
    check(False, "If-None-Match * on an existing key succeeded")
except botocore.exceptions.ClientError as e:
    check(e.response["Error"]["Code"] == "PreconditionFailed", "conditional put: %s" % e.response["Error"])
r = s3.put_object(Bucket=b, Key="sse-s3", Body=b"secret" * 50000, ServerSideEncryption="AES256")
check(r.get("ServerSideEncryption") == "AES256", "put SSE-S3: %s" % r)
g = s3.get_object(Bucket=b, Key="sse-s3", Range="bytes=10-19")
check(g["Body"].read() == (b"secret" * 50000)[10:20] and g.get("ServerSideEncryption") == "AES256", "ranged get SSE-S3")
key = bytes(range(32))
s3.put_object(Bucket=b, Key="sse-c", Body=b"customer", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
g = s3.get_object(Bucket=b, Key="sse-c", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
check(g["Body"].read() == b"customer", "get SSE-C")
try:
    s3.get_object(Bucket=b, Key="sse-c", SSECustomerAlgorithm="AES256", SSECustomerKey=bytes(32))
    check(False, "get SSE-C with a wrong key succeeded")
except botocore.exceptions.ClientError as e:
    check(e.response["Error"]["Code"] == "AccessDenied", "wrong SSE-C key: %s" % e.response["Error"])
print("OK")
`

type versionsListing struct {
	Versions []struct {
		Key, VersionId string
		IsLatest       bool
	}
	DeleteMarkers []struct {
		Key, VersionId string
		IsLatest       bool
	}
}

// TestS3API drives versioning, CopyObject and tagging with aws-cli v1 and
// v2 (s3api) and with boto3 against the real binary.
func TestS3API(t *testing.T) {
	wolkeBin(t) // skip or fail before anything else
	clis := awsCLIs(t)
	needBoto3(t)
	c := StartCluster(t)
	work := t.TempDir()
	for _, cli := range clis {
		t.Run(cli.name, func(t *testing.T) { awsS3API(t, c, cli, work) })
	}
	t.Run("boto3", func(t *testing.T) {
		out := c.Python(t, 2*time.Minute, t.TempDir(), s3apiBoto3Script)
		if !strings.Contains(out, "OK") {
			t.Fatalf("boto3 script did not finish:\n%s", out)
		}
	})
}

func awsS3API(t *testing.T, c *Cluster, cli awsCLI, work string) {
	const short = time.Minute
	b := "s3api-" + cli.name
	jsonOut := func(v any, args ...string) {
		t.Helper()
		out := c.AWS(t, cli, short, work, append(args, "--output", "json")...)
		if err := json.Unmarshal([]byte(out), v); err != nil {
			t.Fatalf("%s: %v\n%s", args[1], err, out)
		}
	}
	for i, body := range []string{"first", "second"} {
		if err := os.WriteFile(filepath.Join(work, cli.name+string(rune('0'+i))), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c.AWS(t, cli, short, work, "s3api", "create-bucket", "--bucket", b)
	c.AWS(t, cli, short, work, "s3api", "put-bucket-versioning", "--bucket", b, "--versioning-configuration", "Status=Enabled")
	var gv struct{ Status string }
	jsonOut(&gv, "s3api", "get-bucket-versioning", "--bucket", b)
	if gv.Status != "Enabled" {
		t.Fatalf("get-bucket-versioning: %q", gv.Status)
	}
	var put1, put2 struct{ VersionId string }
	jsonOut(&put1, "s3api", "put-object", "--bucket", b, "--key", "doc", "--body", cli.name+"0")
	jsonOut(&put2, "s3api", "put-object", "--bucket", b, "--key", "doc", "--body", cli.name+"1", "--tagging", "team=storage")
	if put1.VersionId == "" || put1.VersionId == put2.VersionId {
		t.Fatalf("version ids %q %q", put1.VersionId, put2.VersionId)
	}

	var cp struct {
		CopySourceVersionId string
		CopyObjectResult    struct{ ETag string }
	}
	jsonOut(&cp, "s3api", "copy-object", "--bucket", b, "--key", "old copy", "--copy-source", b+"/doc?versionId="+put1.VersionId)
	if cp.CopySourceVersionId != put1.VersionId || cp.CopyObjectResult.ETag == "" {
		t.Errorf("copy-object: %+v", cp)
	}
	dl := filepath.Join(t.TempDir(), "dl")
	c.AWS(t, cli, short, work, "s3api", "get-object", "--bucket", b, "--key", "old copy", dl)
	if got, _ := os.ReadFile(dl); string(got) != "first" {
		t.Errorf("copy of the first version reads %q", got)
	}

	c.AWS(t, cli, short, work, "s3api", "put-object-tagging", "--bucket", b, "--key", "old copy",
		"--tagging", "TagSet=[{Key=color,Value=blue},{Key=size,Value=small}]")
	var tg struct{ TagSet []struct{ Key, Value string } }
	jsonOut(&tg, "s3api", "get-object-tagging", "--bucket", b, "--key", "old copy")
	if len(tg.TagSet) != 2 || tg.TagSet[0].Key != "color" || tg.TagSet[1].Value != "small" {
		t.Errorf("get-object-tagging: %+v", tg.TagSet)
	}
	jsonOut(&tg, "s3api", "get-object-tagging", "--bucket", b, "--key", "doc")
	if len(tg.TagSet) != 1 || tg.TagSet[0].Key != "team" || tg.TagSet[0].Value != "storage" {
		t.Errorf("tags from --tagging: %+v", tg.TagSet)
	}

	var del struct {
		DeleteMarker bool
		VersionId    string
	}
	jsonOut(&del, "s3api", "delete-object", "--bucket", b, "--key", "doc")
	if !del.DeleteMarker || del.VersionId == "" {
		t.Errorf("delete-object: %+v", del)
	}
	var lv versionsListing
	jsonOut(&lv, "s3api", "list-object-versions", "--bucket", b, "--prefix", "doc")
	if len(lv.Versions) != 2 || lv.Versions[0].VersionId != put2.VersionId || lv.Versions[1].VersionId != put1.VersionId ||
		lv.Versions[0].IsLatest || len(lv.DeleteMarkers) != 1 || !lv.DeleteMarkers[0].IsLatest || lv.DeleteMarkers[0].VersionId != del.VersionId {
		t.Errorf("list-object-versions: %+v", lv)
	}
	if out, err := c.AWSErr(t, cli, short, work, "s3api", "head-object", "--bucket", b, "--key", "doc"); err == nil {
		t.Errorf("head-object of a deleted key succeeded:\n%s", out)
	}
}
