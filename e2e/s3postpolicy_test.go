package e2e

import (
	"strings"
	"testing"
	"time"
)

// s3PostPolicyScript signs browser-form uploads with boto3's
// generate_presigned_post and sends them with curl -F and with a
// hand-built multipart body over urllib. It checks the stored object, the
// 201 XML, 204 and 303 answers, and AWS's errors for a violated
// condition, an expired policy, a bad signature and an oversize file,
// each leaving the bucket as it was. It prints OK at the end.
const s3PostPolicyScript = `
import io, os, subprocess, sys, time, urllib.request, urllib.error, uuid
import xml.etree.ElementTree as ET
import boto3, botocore
from botocore.config import Config

def check(cond, msg):
    if not cond:
        print("FAIL:", msg, file=sys.stderr)
        sys.exit(1)

ep = os.environ["WOLKE_ENDPOINT"]
s3 = boto3.client("s3", endpoint_url=ep, region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, signature_version="s3v4"))
b = "post-policy"
s3.create_bucket(Bucket=b)

def keys():
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=b).get("Contents", []))

def presign(fields, conds, expires=300, key="uploads/${filename}"):
    return s3.generate_presigned_post(b, key, Fields=fields, Conditions=conds, ExpiresIn=expires)

def curl(post, path, extra=None):
    args = ["curl", "-sS", "-o", "/dev/stdout", "-w", "\n@@%{http_code}", "-D", "-"]
    for k, v in post["fields"].items():
        args += ["-F", "%s=%s" % (k, v)]
    for k, v in (extra or []):
        args += ["-F", "%s=%s" % (k, v)]
    args += ["-F", "file=@%s" % path, post["url"]]
    out = subprocess.run(args, check=True, capture_output=True, timeout=60).stdout.decode()
    out, _, status = out.rpartition("\n@@")
    head, _, body = out.partition("\r\n\r\n")
    status = int(status)
    return status, head, body

def urllib_post(post, filename, data, extra=None):
    boundary = uuid.uuid4().hex
    buf = io.BytesIO()
    for k, v in list(post["fields"].items()) + list(extra or []):
        buf.write(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n" % (boundary, k, v)).encode())
    buf.write(("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\nContent-Type: application/octet-stream\r\n\r\n" % (boundary, filename)).encode())
    buf.write(data)
    buf.write(("\r\n--%s--\r\n" % boundary).encode())
    req = urllib.request.Request(post["url"], data=buf.getvalue(), method="POST",
                                 headers={"Content-Type": "multipart/form-data; boundary=" + boundary})
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **kw):
            return None
    opener = urllib.request.build_opener(NoRedirect)
    try:
        r = opener.open(req, timeout=60)
        return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()

def error_of(body):
    root = ET.fromstring(body)
    return root.findtext("Code"), root.findtext("Message")

work = sys.argv[1]
photo = os.path.join(work, "photo.png")
payload = os.urandom(3000)
with open(photo, "wb") as f:
    f.write(payload)

conds = [["content-length-range", 1, 4096], ["starts-with", "$key", "uploads/"], {"Content-Type": "image/png"},
         ["starts-with", "$x-amz-meta-owner", ""], {"success_action_status": "201"}]
fields = {"Content-Type": "image/png", "x-amz-meta-owner": "alice", "success_action_status": "201"}

# 201 with the PostResponse XML, via curl.
post = presign(fields, conds)
status, head, body = curl(post, photo)
check(status == 201, "curl 201: %d %s" % (status, body))
root = ET.fromstring(body)
ns = root.tag[:root.tag.index("}") + 1] if root.tag.startswith("{") else ""
check(root.tag == ns + "PostResponse" and root.findtext(ns + "Key") == "uploads/photo.png" and root.findtext(ns + "Bucket") == b,
      "201 body: %s" % body)
g = s3.get_object(Bucket=b, Key="uploads/photo.png")
check(g["Body"].read() == payload, "stored content")
check(g["ContentType"] == "image/png" and g["Metadata"] == {"owner": "alice"}, "stored metadata: %s %s" % (g["ContentType"], g["Metadata"]))
check(root.findtext(ns + "ETag") == g["ETag"], "201 ETag %s, object %s" % (root.findtext(ns + "ETag"), g["ETag"]))

# 204 (no success_action_status), via urllib.
post = presign({"Content-Type": "image/png", "x-amz-meta-owner": "bob"}, conds[:4])
status, headers, body = urllib_post(post, "second.png", b"x" * 10)
check(status == 204 and body == b"", "urllib 204: %d %s" % (status, body))
check(s3.get_object(Bucket=b, Key="uploads/second.png")["Body"].read() == b"x" * 10, "urllib upload content")

# 303 to success_action_redirect with bucket, key and etag.
redir = "http://127.0.0.1:9/done?from=form"
post = presign({"Content-Type": "image/png", "x-amz-meta-owner": "c", "success_action_redirect": redir},
               conds[:4] + [{"success_action_redirect": redir}])
status, head, body = curl(post, photo)
check(status == 303, "redirect status %d" % status)
loc = [l.split(":", 1)[1].strip() for l in head.split("\r\n") if l.lower().startswith("location:")]
check(loc and loc[0].startswith("http://127.0.0.1:9/done?") and "from=form" in loc[0] and "key=uploads%2Fphoto.png" in loc[0]
      and "bucket=" + b in loc[0] and "etag=" in loc[0], "redirect location %s" % loc)

before = keys()
check(before == ["uploads/photo.png", "uploads/second.png"], "keys after the good uploads: %s" % before)
big = os.path.join(work, "big.png")
with open(big, "wb") as f:
    f.write(os.urandom(5000))

# A violated eq condition.
post = presign(fields, conds)
post["fields"]["Content-Type"] = "text/plain"
status, head, body = curl(post, photo)
check(status == 403, "violated condition: %d %s" % (status, body))
code, msg = error_of(body)
check(code == "AccessDenied" and msg.startswith("Invalid according to Policy: Policy Condition failed:") and "$Content-Type" in msg,
      "violated condition: %s %s" % (code, msg))

# A key outside starts-with, over urllib.
post = presign(fields, conds)
post["fields"]["key"] = "elsewhere/${filename}"
status, headers, body = urllib_post(post, "x.png", b"y")
code, msg = error_of(body)
check(status == 403 and code == "AccessDenied" and "$key" in msg, "starts-with $key: %d %s %s" % (status, code, msg))

# A field the policy does not name.
post = presign(fields, conds)
status, head, body = curl(post, photo, extra=[("x-amz-meta-extra", "1")])
code, msg = error_of(body)
check(status == 403 and code == "AccessDenied" and msg.startswith("Invalid according to Policy: Extra input fields: x-amz-meta-extra"),
      "extra field: %d %s %s" % (status, code, msg))

# An expired policy.
post = presign(fields, conds, expires=-10)
status, head, body = curl(post, photo)
code, msg = error_of(body)
check(status == 403 and code == "AccessDenied" and msg == "Invalid according to Policy: Policy expired.",
      "expired: %d %s %s" % (status, code, msg))

# A bad signature.
post = presign(fields, conds)
sig = post["fields"]["x-amz-signature"]
post["fields"]["x-amz-signature"] = ("0" if sig[0] != "0" else "1") + sig[1:]
status, head, body = curl(post, photo)
code, msg = error_of(body)
check(status == 403 and code == "SignatureDoesNotMatch", "bad signature: %d %s %s" % (status, code, msg))

# A file over content-length-range, with curl and urllib.
post = presign(fields, conds)
status, head, body = curl(post, big)
code, msg = error_of(body)
check(status == 400 and code == "EntityTooLarge", "oversize: %d %s %s" % (status, code, msg))
root = ET.fromstring(body)
check(root.findtext("MaxSizeAllowed") == "4096" and root.findtext("ProposedSize") == "5000", "oversize details: %s" % body)
status, headers, body = urllib_post(presign(fields, conds), "big.png", os.urandom(4097))
check(status == 400 and error_of(body)[0] == "EntityTooLarge", "urllib oversize: %d %s" % (status, body))
status, headers, body = urllib_post(presign(fields, conds), "empty.png", b"")
check(status == 400 and error_of(body)[0] == "EntityTooSmall", "urllib undersize: %d %s" % (status, body))

check(keys() == before, "failed uploads changed the bucket: %s" % keys())
print("OK")
`

// TestS3PostPolicy proves POST Object with boto3's presigned POST, curl -F
// and urllib (gateway/postpolicy.go).
func TestS3PostPolicy(t *testing.T) {
	wolkeBin(t)
	needBoto3(t)
	c := StartCluster(t)
	work := t.TempDir()
	out := c.Python(t, 2*time.Minute, work, s3PostPolicyScript, work)
	if !strings.Contains(out, "OK") {
		t.Fatalf("post policy script did not finish:\n%s", out)
	}
}
