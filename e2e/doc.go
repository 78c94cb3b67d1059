// Package e2e holds Wolke's end-to-end tests: they build the real `wolke`
// binary, start `wolke dev` in a temporary directory and drive it with the
// clients users have (aws-cli v1 and v2, s3cmd, boto3) and with raw HTTP.
//
// Environment:
//
//	WOLKE_E2E=0                skip the whole package
//	WOLKE_E2E_BIN=/path/wolke  use this binary instead of building ./cmd/wolke
//	WOLKE_E2E_BIG_MB=1024      size of the large aws-cli transfer (MiB)
//	WOLKE_E2E_ALLOW_MISSING=1  skip (outside CI) tests whose client is missing
//	CI=true                    a missing client always fails
//
// scripts/install-test-deps.sh installs the clients.
package e2e
