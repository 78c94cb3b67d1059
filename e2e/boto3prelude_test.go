package e2e

// boto3Prelude starts the boto3 scripts of the S3 tests: imports, check
// (exit 1 with a message), error_code and error_of (the S3 error code, and
// the HTTP status with it, of a call expected to fail; None when it did
// not fail) and s3, a path-style client on $WOLKE_ENDPOINT without retries.
const boto3Prelude = `
import base64, datetime, hashlib, os, struct, sys, zlib
import boto3, botocore
from botocore.config import Config

def check(cond, msg):
    if not cond:
        print("FAIL:", msg, file=sys.stderr)
        sys.exit(1)

def error_code(fn, **kw):
    try:
        fn(**kw)
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]
    return None

def error_of(fn, **kw):
    try:
        fn(**kw)
    except botocore.exceptions.ClientError as e:
        return e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"]
    return None

s3 = boto3.client("s3", endpoint_url=os.environ["WOLKE_ENDPOINT"], region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
`
