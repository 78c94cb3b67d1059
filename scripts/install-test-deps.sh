#!/usr/bin/env bash
# install-test-deps.sh installs the clients Wolke's end-to-end tests drive
# (Debian packages). It is idempotent and fast when everything is present:
# each package is probed first, and apt runs only for what is missing.
#
# Exit status: 0 when every client is usable, non-zero with a message naming
# what could not be installed.
set -euo pipefail

log() { printf 'install-test-deps: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# package|probe: the probe is a shell command that succeeds when the client
# the tests need is usable.
checks=(
	"awscli|test -x /usr/bin/aws"
	"s3cmd|command -v s3cmd"
	"python3-boto3|/usr/bin/python3 -c 'import boto3'"
	"fio|command -v fio"
	"libnbd-bin|command -v nbdinfo && command -v nbdcopy && command -v nbdfuse"
	"nbdkit|command -v nbdkit"
	"qemu-utils|command -v qemu-img && command -v qemu-io && command -v qemu-nbd"
	"dnsutils|command -v dig"
	"e2fsprogs|PATH=\$PATH:/sbin:/usr/sbin command -v mkfs.ext4"
	"gcc|command -v gcc" # go test -race needs cgo
)

probe() { bash -c "$1" >/dev/null 2>&1; }

missing=()
for c in "${checks[@]}"; do
	pkg=${c%%|*}
	if ! probe "${c#*|}"; then
		missing+=("$pkg")
	fi
done

if ((${#missing[@]} > 0)); then
	log "installing: ${missing[*]}"
	sudo=()
	if [[ $(id -u) -ne 0 ]]; then
		command -v sudo >/dev/null 2>&1 || die "not root and no sudo: install ${missing[*]} by hand"
		sudo=(sudo)
	fi
	command -v apt-get >/dev/null 2>&1 || die "apt-get not found (Debian/Ubuntu expected): install ${missing[*]} by hand"
	"${sudo[@]}" apt-get update -qq || die "apt-get update failed"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" ||
		die "apt-get install failed for: ${missing[*]}"
	failed=()
	for c in "${checks[@]}"; do
		if ! probe "${c#*|}"; then
			failed+=("${c%%|*}")
		fi
	done
	((${#failed[@]} == 0)) || die "still unusable after install: ${failed[*]}"
fi

# aws-cli v2 is Debian's /usr/bin/aws. The tests also drive aws-cli v1 when
# an `aws` earlier on PATH is v1 (e.g. from pyenv or pip); without one they
# use v2 only and say so.
v2=$(/usr/bin/aws --version 2>&1 || true)
case $v2 in
aws-cli/2.*) ;;
*) die "/usr/bin/aws is not aws-cli v2: $v2" ;;
esac
v1=$(aws --version 2>&1 || true)
case $v1 in
aws-cli/1.*) log "aws-cli v1 on PATH: $(command -v aws) (${v1%% *})" ;;
*) log "note: no aws-cli v1 on PATH (found: ${v1%% *}); the e2e tests will drive /usr/bin/aws (v2) only" ;;
esac

log "all test clients present"
