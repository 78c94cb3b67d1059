#!/usr/bin/env bash
# scripts/bench.sh — `make bench`: measure the storage core in one run and
# write bench/results/<date>.md, with CSVs, JSON and PNG plots in
# bench/results/<date>/:
#   a. erasure coding (go test -bench Encode|Reconstruct ./core)
#   b. one disk through the chunk store (`wolke bench disk`) against fio
#   c. S3 through `wolke dev` (`wolke bench s3`): PUT/GET by size and
#      concurrency, mixed, multipart, list; server CPU seconds per GB
#   d. NBD fio jobs (bench/fio/nbd.fio) on nbdkit memory, qemu-nbd and a
#      Wolke volume when `wolke dev` serves NBD
#   e. plots: throughput against concurrency, latency CDFs
#   f. durability of a sample cluster (`wolke bench durability`)
# Everything runs on 127.0.0.1 and every step is bounded. Knobs (env):
#   BENCH_POINT=10s        duration of each S3 point
#   BENCH_POINT_LARGE=20s  ... of objects of 16 MiB and more (a 64 MiB PUT at
#                          32 in flight takes seconds)
#   BENCH_CONCURRENCY="1 8 16 32"
#   BENCH_SIZES="4KiB 1MiB 64MiB"
#   BENCH_LIST_KEYS=100000 keys for the ListObjectsV2 run
#   BENCH_DISK_MIB=1024    MiB for the disk and fio runs
#   BENCH_FIO_RUNTIME=8    seconds per NBD fio job
#   BENCH_NBD_PREALLOCATE=1  section d's `wolke dev` writes its six 4 GiB disk
#                          files in full first (--preallocate), as chunk servers
#                          own whole disks in production; 0: sparse files
#   BENCH_MIXED=15s BENCH_MULTIPART=30s BENCH_PARTS=64 BENCH_LIST=20s
#   BENCH_OUT=bench/results, BIN=bin/wolke, TMPDIR (work files; a real disk)
#   BENCH_SECTIONS="a b c d e f"  the sections to run (e plots c's data)
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-bin/wolke}
POINT=${BENCH_POINT:-10s}
POINT_LARGE=${BENCH_POINT_LARGE:-20s}
CONCS=${BENCH_CONCURRENCY:-"1 8 16 32"}
SIZES=${BENCH_SIZES:-"4KiB 1MiB 64MiB"}
LIST_KEYS=${BENCH_LIST_KEYS:-100000}
DISK_MIB=${BENCH_DISK_MIB:-1024}
FIO_RUNTIME=${BENCH_FIO_RUNTIME:-8}
MIXED_DUR=${BENCH_MIXED:-15s}
MP_DUR=${BENCH_MULTIPART:-30s}
MP_PARTS=${BENCH_PARTS:-64}
LIST_DUR=${BENCH_LIST:-20s}
NBD_MIB=1024
NBD_PREALLOC=${BENCH_NBD_PREALLOCATE:-1}
SECTIONS=${BENCH_SECTIONS:-"a b c d e f"}
want() { [[ " $SECTIONS " == *" $1 "* ]]; }
DATE=$(date -u +%F)
OUT=${BENCH_OUT:-bench/results}
RES=$OUT/$DATE
MD=$OUT/$DATE.md
AK=benchaccesskey
SK=benchsecretkey123
mkdir -p "$RES"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/wolke-bench.XXXXXX")
BODY=$WORK/body.md # the section being written; see section
LOG=$RES/bench.log
: >"$LOG"
T0=$(date +%s)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

PIDS=()     # helper servers we started, stopped on exit
DEVPID=""
stop_helpers() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	PIDS=()
}
DONE=0
cleanup() {
	set +e
	stop_dev
	stop_helpers
	# A run that stopped early still leaves what it measured.
	[ $DONE = 1 ] || write_md "**Incomplete: the run stopped early; see \`$LOG\`.**"
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "bench: $*" >&2; echo "$(date -u +%T) $*" >>"$LOG"; }
md() { printf '%s\n' "$*" >>"$BODY"; }
section() { BODY=$WORK/section-$1.md; : >"$BODY"; } # sections are put together in name order

# free_port prints a TCP port nothing listens on at 127.0.0.1.
free_port() {
	local p lo
	# Below the ephemeral range, where outgoing connections take their ports.
	lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
	lo=$((lo > 12000 ? lo : 32768))
	for _ in $(seq 50); do
		p=$((10000 + RANDOM % (lo - 10000)))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	echo "bench: no free port found" >&2
	return 1
}

# wait_port waits up to $2 seconds for a listener on port $1.
wait_port() {
	for _ in $(seq $(($2 * 10))); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

stop_dev() {
	[ -n "$DEVPID" ] || return 0
	kill -INT "$DEVPID" 2>/dev/null || true
	for _ in $(seq 600); do
		kill -0 "$DEVPID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$DEVPID" 2>/dev/null || true
	wait "$DEVPID" 2>/dev/null || true
	DEVPID=""
}

[ -x "$BIN" ] || { echo "bench: $BIN is missing; run make build" >&2; exit 1; }

# ---------------------------------------------------------------- machine
machine() {
	local cpu mem disk dev
	cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
	mem=$(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)
	dev=$(findmnt -no SOURCE,FSTYPE --target "$WORK" 2>/dev/null | head -1 || true)
	disk=$(lsblk -dno NAME,MODEL,SIZE,ROTA 2>/dev/null | awk '$1 !~ /^(zram|loop|nbd)/ {r=$NF=="1"?"rotational":"non-rotational"; $NF=""; print $0 r}' | paste -sd';' - || true)
	local dirty
	dirty=$({ git status --porcelain 2>/dev/null || true; } | wc -l)
	cat <<EOF
| | |
|---|---|
| date | $(date -u '+%F %T UTC') |
| CPUs (nproc) | $(nproc) |
| CPU | ${cpu:-unknown} |
| memory | $mem |
| kernel | $(uname -sr) |
| work files on | ${dev:-unknown} ($WORK) |
| disks | ${disk:-unknown} |
| go | $(go version 2>/dev/null | cut -d' ' -f3-) |
| commit | $(git rev-parse --short HEAD 2>/dev/null || echo unknown) ($dirty files changed in the working tree) |
| load average at start | $LOAD0 |
EOF
}

# ---------------------------------------------------------------- a. erasure coding
bench_ec() {
	say "erasure coding"
	section a
	md "## a. Erasure coding (4+2, 1 MiB shards, klauspost/reedsolomon)"
	md ""
	if CGO_ENABLED=0 timeout 300 go test -run XXX -bench 'Encode|Reconstruct' -benchtime 2s ./core >"$RES/ec.txt" 2>&1; then
		md "| benchmark | ns/op | GB/s (data bytes) |"
		md "|---|--:|--:|"
		awk '/^Benchmark/ { for (i = 1; i <= NF; i++) { if ($i == "ns/op") ns = $(i-1); if ($i == "MB/s") mb = $(i-1) }
			printf "| %s | %s | %.2f |\n", $1, ns, mb / 1000 }' "$RES/ec.txt" >>"$BODY"
	else
		md "failed: see \`$RES/ec.txt\`"
	fi
	md ""
}

# ---------------------------------------------------------------- b. disk
fio_mbps() { # fio JSON file, read|write → MB/s
	jq -r --arg d "$2" '.jobs[0][$d].bw_bytes / 1e6 | . * 10 | round / 10' "$1"
}

bench_disk() {
	say "one disk: chunk store against fio ($DISK_MIB MiB)"
	section b
	md "## b. One disk: chunk store against fio"
	md ""
	local ok=1
	timeout 600 "$BIN" bench disk --file "$WORK/store.img" --size "${DISK_MIB}MiB" --json >"$RES/disk-store.json" 2>>"$LOG" || ok=0
	# Four Puts in flight share syncs and index commits (group commit).
	timeout 600 "$BIN" bench disk --file "$WORK/store.img" --size "${DISK_MIB}MiB" --concurrent 4 --json \
		>"$RES/disk-store-c4.json" 2>>"$LOG" || ok=0
	local f=$WORK/fio.img
	for j in "seqwrite --rw=write" "seqread --rw=read" "seqwrite-fsync --rw=write --fsync=1"; do
		set -- $j
		# shellcheck disable=SC2086
		timeout 600 fio --name="$1" --filename="$f" --direct=1 $2 ${3:-} --bs=1M --size="${DISK_MIB}M" \
			--ioengine=psync --output-format=json --output="$RES/disk-fio-$1.json" >>"$LOG" 2>&1 || ok=0
	done
	rm -f "$f"
	if [ $ok = 0 ]; then
		md "failed: see \`$LOG\`"
		md ""
		return
	fi
	local sw sr fw fr ff direct
	sw=$(jq -r '.write.mb_per_sec | . * 10 | round / 10' "$RES/disk-store.json")
	sr=$(jq -r '.read.mb_per_sec | . * 10 | round / 10' "$RES/disk-store.json")
	direct=$(jq -r '.o_direct' "$RES/disk-store.json")
	fw=$(fio_mbps "$RES/disk-fio-seqwrite.json" write)
	fr=$(fio_mbps "$RES/disk-fio-seqread.json" read)
	ff=$(fio_mbps "$RES/disk-fio-seqwrite-fsync.json" write)
	md "$DISK_MIB MiB in 1 MiB chunks, one at a time, on the same file system (O_DIRECT: $direct). The store's Put is"
	md "durable on return (O_DIRECT write + fdatasync + index commit); plain fio --direct=1 does not sync, so"
	md "fio with --fsync=1 is shown too. MB/s = 10^6 bytes/s."
	md ""
	md "| | chunk store (\`wolke bench disk\`) | fio psync QD1 | store / fio | fio --fsync=1 | store / fio --fsync=1 |"
	md "|---|--:|--:|--:|--:|--:|"
	md "| sequential write | $sw MB/s | $fw MB/s | $(awk "BEGIN{printf \"%.0f %%\", 100*$sw/$fw}") | $ff MB/s | $(awk "BEGIN{printf \"%.0f %%\", 100*$sw/$ff}") |"
	md "| sequential read | $sr MB/s | $fr MB/s | $(awk "BEGIN{printf \"%.0f %%\", 100*$sr/$fr}") | | |"
	md "| write, 4 Puts in flight | $(jq -r '.write.mb_per_sec | . * 10 | round / 10' "$RES/disk-store-c4.json") MB/s | | | | |"
	md "| read, 4 Gets in flight | $(jq -r '.read.mb_per_sec | . * 10 | round / 10' "$RES/disk-store-c4.json") MB/s | | | | |"
	md ""
	md "Goal: ≥ 80 % of fio. Commands: \`$BIN bench disk --file F --size ${DISK_MIB}MiB\`;"
	md "\`fio --name=seqwrite --filename=F --direct=1 --rw=write --bs=1M --size=${DISK_MIB}M --ioengine=psync\` (and --rw=read, and --fsync=1)."
	md ""
}

# ---------------------------------------------------------------- c. S3
# start_dev NAME [ARGS...]: `wolke dev` on $WORK/NAME with ARGS.
start_dev() {
	PORT=$(free_port)
	local args=(dev --dir "$WORK/$1" --s3-addr "127.0.0.1:$PORT" --root-access-key "$AK" --root-secret-key "$SK" "${@:2}")
	NBD_ADDR=""
	if "$BIN" dev --help 2>/dev/null | grep -q -- '--nbd-addr'; then
		NBD_ADDR=127.0.0.1:$(free_port)
		args+=(--nbd-addr "$NBD_ADDR")
	fi
	say "starting wolke dev on 127.0.0.1:$PORT (NBD: ${NBD_ADDR:-none})"
	"$BIN" "${args[@]}" >"$WORK/dev.out" 2>&1 &
	DEVPID=$!
	for _ in $(seq 1200); do
		if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/_wolke/health" 2>/dev/null; then
			return 0
		fi
		kill -0 "$DEVPID" 2>/dev/null || break
		sleep 0.1
	done
	echo "bench: wolke dev did not become healthy:" >&2
	tail -20 "$WORK/dev.out" >&2
	return 1
}

S3ROWS=$WORK/s3rows.md
: >"$S3ROWS"

# s3 NAME LABEL OP ARGS...: one point; a row per operation into S3ROWS.
s3() {
	local name=$1 label=$2 op=$3
	shift 3
	say "s3 $name"
	local rc=0
	if timeout "${S3_TIMEOUT:-900}" "$BIN" bench s3 "$op" --endpoint "http://127.0.0.1:$PORT" --access-key "$AK" --secret-key "$SK" \
		--server-pid "$DEVPID" --csv "$RES/$name.csv" --json "$@" >"$RES/$name.json" 2>"$WORK/$name.err"; then
		jq -r --arg run "$label" '
			def ms: . / 1e6 | if . >= 100 then (round | tostring) else (. * 100 | round / 100 | tostring) end;
			.server_cpu as $cpu | .concurrent as $c |
			.ops[] | "| \($run) | \(.op) | \($c) | \(.ops_per_sec * 10 | round / 10) | \(.bytes_per_sec / 1048576 * 10 | round / 10) | \(.p50_ns | ms) | \(.p99_ns | ms) | \(.count) | \(.errors) | " +
			(if (.op == "PUTPART") then "" elif $cpu.cpu_seconds_per_gb then ($cpu.cpu_seconds_per_gb * 100 | round / 100 | tostring) else "–" end) + " | " +
			(if (.op == "PUTPART") then "" else ($cpu.cpu_ms_per_op * 1000 | round / 1000 | tostring) end) + " |"' \
			"$RES/$name.json" >>"$S3ROWS" 2>>"$LOG" || echo "| $label | summary unreadable: $RES/$name.json | | | | | | | | | |" >>"$S3ROWS"
	else
		echo "| $label | $op failed: $(tail -1 "$WORK/$name.err" | cut -c1-120) | | | | | | | | | |" >>"$S3ROWS"
		rc=1
	fi
	cat "$WORK/$name.err" >>"$LOG"
	return $rc
}

objects_for() { # GET pool size for an object size: about 1 GiB or 1000 objects at most
	case $1 in
	4KiB) echo 1000 ;;
	1MiB) echo 256 ;;
	*) echo 16 ;;
	esac
}

bench_s3() {
	section c
	md "## c. S3 through \`wolke dev\` (4+2 on six chunk servers)"
	md ""
	md "Each point runs $POINT ($POINT_LARGE for objects of 16 MiB and more; mixed $MIXED_DUR, multipart $MP_DUR, list $LIST_DUR), against http://127.0.0.1 with \`$BIN bench s3\`."
	md "CPU is the \`wolke dev\` process's user+system time over the timed phase only (/proc/PID/stat), per 10^9 bytes"
	md "moved and per operation, for the whole run (so the same on every row of a mixed or multipart run); the load"
	md "generator runs on the same CPUs and is not counted. p50/p99 in ms. 4 KiB objects are stored inline in meta."
	md ""
	local op size c extra dur
	for op in put get; do
		for size in $SIZES; do
			dur=$POINT
			case $size in *GiB | [1-9][0-9]MiB | [1-9][0-9][0-9]MiB) dur=$POINT_LARGE ;; esac
			for c in $CONCS; do
				extra=()
				[ "$size" = 4KiB ] && extra+=(--noclear) # inline objects: cleanup would take longer than the run
				[ "$op" = get ] && extra+=(--objects "$(objects_for "$size")" --prepare.concurrent 16)
				s3 "$op-$size-c$c" "$op $size" "$op" --obj.size "$size" --concurrent "$c" --duration "$dur" "${extra[@]}" || true
			done
		done
	done
	s3 "mixed-1MiB-c16" "mixed 1MiB" mixed --obj.size 1MiB --concurrent 16 --objects 256 --duration "$MIXED_DUR" || true
	s3 "multipart-c1" "multipart $MP_PARTS × 16MiB" multipart --parts "$MP_PARTS" --part.size 16MiB --concurrent 1 --duration "$MP_DUR" || true
	# ListObjectsV2: one worker lists all keys, 1,000 per page; 32 writers prepare them.
	# Preparing the keys is bounded (6 min); if it does not make it, a tenth.
	local keys
	for keys in "$LIST_KEYS" $((LIST_KEYS / 10)); do
		S3_TIMEOUT=360 s3 "list-${keys}-c1" "list $keys keys" list --objects "$keys" --obj.size 1 --concurrent 1 \
			--prepare.concurrent 32 --duration "$LIST_DUR" --noclear && break
	done
	md "| run | op | concurrent | ops/s | MiB/s | p50 | p99 | ok | errors | CPU s/GB | CPU ms/op |"
	md "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
	cat "$S3ROWS" >>"$BODY"
	md ""
}

# ---------------------------------------------------------------- e. plots
bench_plots() {
	say "plots"
	section e
	md "## e. Plots"
	md ""
	local op size dir
	for op in put get; do
		for size in $SIZES; do
			dir=$RES/plots/$op-$size
			# shellcheck disable=SC2086
			if ls $RES/$op-$size-c*.csv >/dev/null 2>&1 &&
				"$BIN" bench plot --out "$dir" $(ls -v $RES/$op-$size-c*.csv) >>"$LOG" 2>&1; then
				md "$op $size: ![throughput]($DATE/plots/$op-$size/throughput.png) ![latency]($DATE/plots/$op-$size/latency-cdf.png)"
				md ""
			fi
		done
	done
	if "$BIN" bench plot --out "$RES/plots/mixed" "$RES/mixed-1MiB-c16.csv" >>"$LOG" 2>&1; then
		md "mixed 1MiB c=16: ![latency]($DATE/plots/mixed/latency-cdf.png)"
		md ""
	fi
}

# ---------------------------------------------------------------- d. NBD
NBDJOBS=$WORK/nbd-jobs
NBD_JOBS="seqwrite-1m-qd8 randwrite-4k-qd1 randwrite-4k-qd32 randwrite-4k-qd32-flush32 seqread-1m-qd8 randread-4k-qd1 randread-4k-qd32"
# fio_nbd TARGET URI: run each job of bench/fio/nbd.fio on its own, into
# $RES/nbd-TARGET-JOB.json. A job whose connection is refused (a volume's
# writer lease may outlive the previous job's connection for a moment) is
# tried again, up to three times. Fails if any job never ran.
fio_nbd() {
	say "nbd fio on $1 ($2)"
	local j try ok all=0
	for j in $NBD_JOBS; do
		ok=0
		for try in 1 2 3; do
			if NBD_URI=$2 FIO_SIZE=${NBD_MIB}m FIO_RUNTIME=$FIO_RUNTIME timeout 300 \
				fio --section="$j" --output-format=json --output="$RES/nbd-$1-$j.json" bench/fio/nbd.fio >>"$LOG" 2>&1 &&
				[ "$(jq '.jobs[0] | .read.io_bytes + .write.io_bytes' "$RES/nbd-$1-$j.json" 2>/dev/null || echo 0)" -gt 0 ]; then
				ok=1
				break
			fi
			say "nbd fio $j on $1: attempt $try failed"
			sleep 2
		done
		[ $ok = 1 ] || { all=1; rm -f "$RES/nbd-$1-$j.json"; }
	done
	return $all
}

nbd_cell() { # JSON job → "IOPS / MB/s / p99 ms"
	jq -r --arg j "$2" '.jobs[] | select(.jobname == $j) |
		(if .write.io_bytes > 0 then .write else .read end) as $d |
		"\($d.iops | round) IOPS, \($d.bw_bytes / 1e6 | . * 10 | round / 10) MB/s, p99 \(($d.clat_ns.percentile["99.000000"] // 0) / 1e6 | . * 100 | round / 100) ms"' "$1" 2>>"$LOG" ||
		echo "unreadable: $1"
}

# disk_ceiling JOBS BS NAME: MB/s the work file system takes from JOBS
# writers at once, each writing its own file in BS O_DIRECT blocks at QD8:
# how the chunk store writes a new extent's pieces in `wolke dev`, where
# they all share this disk (3 writers of 1 MiB: three replicas; 6 of
# 256 KiB: 4+2 shards of an extent written whole). The files are written
# once before the measured run when the volumes' disk files are
# preallocated (overwrites, as there), else new and sparse.
disk_ceiling() {
	local d=$WORK/ceiling
	mkdir -p "$d"
	[ "$NBD_PREALLOC" != 1 ] || timeout 300 fio --name=ceiling --directory="$d" --rw=write --bs=1m --iodepth=8 --ioengine=libaio \
		--direct=1 --fallocate=none --size="$((NBD_MIB * 3 / $1))M" --numjobs="$1" >>"$LOG" 2>&1 || return 1
	timeout 300 fio --name=ceiling --directory="$d" --rw=write --bs="$2" --iodepth=8 --ioengine=libaio \
		--direct=1 --fallocate=none --size="$((NBD_MIB * 3 / $1))M" --numjobs="$1" --group_reporting \
		--output-format=json --output="$RES/nbd-disk-ceiling-$3.json" >>"$LOG" 2>&1 || return 1
	rm -rf "$d"
	jq -r '.jobs[0].write.bw_bytes / 1e6 | round' "$RES/nbd-disk-ceiling-$3.json" 2>>"$LOG"
}

# wolke_volume TYPE: the id of a new NBD_MIB volume of the EC2 volume
# type TYPE: \`wolke volume create\`, else aws-cli's EC2 API; "" if neither
# made one.
wolke_volume() {
	local vol zone
	vol=$(timeout 60 "$BIN" volume create --endpoint "http://127.0.0.1:$PORT" --access-key "$AK" --secret-key "$SK" \
		--size $((NBD_MIB / 1024)) --type "$1" 2>>"$LOG" | tail -1 || true)
	if [ -z "$vol" ] && command -v aws >/dev/null; then
		zone=$(AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK AWS_DEFAULT_REGION=us-east-1 timeout 60 aws --endpoint-url "http://127.0.0.1:$PORT" \
			ec2 describe-availability-zones --query 'AvailabilityZones[0].ZoneName' --output text 2>>"$LOG" || true)
		vol=$(AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK AWS_DEFAULT_REGION=us-east-1 timeout 60 aws --endpoint-url "http://127.0.0.1:$PORT" \
			ec2 create-volume --size $((NBD_MIB / 1024)) --volume-type "$1" --availability-zone "$zone" --query VolumeId --output text 2>>"$LOG" || true)
	fi
	case $vol in vol-*) echo "$vol" ;; esac # else an error text
}

# settle: the writes of one target reach the disk (and its freed file
# goes) before the next target starts, so that none pays for another's.
settle() {
	sync
	sleep 5
}

bench_nbd() {
	section d
	md "## d. NBD block I/O (fio --ioengine=nbd, bench/fio/nbd.fio)"
	md ""
	local p wolke_note="" st1_note=""
	p=$(free_port)
	nbdkit -f -i 127.0.0.1 -p "$p" memory "${NBD_MIB}M" >>"$LOG" 2>&1 &
	PIDS+=($!)
	if wait_port "$p" 20; then fio_nbd nbdkit "nbd://127.0.0.1:$p" || say "fio on nbdkit failed"; fi
	stop_helpers
	settle
	qemu-img create -q -f raw "$WORK/qemu.img" "${NBD_MIB}M"
	p=$(free_port)
	qemu-nbd -f raw --cache=none -t -e 8 -b 127.0.0.1 -p "$p" "$WORK/qemu.img" >>"$LOG" 2>&1 &
	PIDS+=($!)
	if wait_port "$p" 20; then fio_nbd qemu "nbd://127.0.0.1:$p" || say "fio on qemu-nbd failed"; fi
	stop_helpers
	rm -f "$WORK/qemu.img"
	settle
	if [ -z "$NBD_ADDR" ]; then
		wolke_note="n/a (volumes not built: \`wolke dev\` has no --nbd-addr)"
		st1_note=$wolke_note
	else
		local vol=${WOLKE_NBD_EXPORT:-}
		[ -n "$vol" ] || vol=$(wolke_volume gp2)
		say "wolke gp2 volume: ${vol:-none}"
		if [ -z "$vol" ]; then
			wolke_note="n/a (\`wolke dev\` serves NBD on $NBD_ADDR but exports no volume, and none could be created)"
		elif ! fio_nbd wolke "nbd://$NBD_ADDR/$vol"; then
			wolke_note="failed: see \`$LOG\`" # for the jobs that never ran
		fi
		settle
		vol=$(wolke_volume st1)
		say "wolke st1 volume: ${vol:-none}"
		if [ -z "$vol" ]; then
			st1_note="n/a (no st1 volume could be created)"
		elif ! fio_nbd wolke-st1 "nbd://$NBD_ADDR/$vol"; then
			st1_note="failed: see \`$LOG\`"
		fi
	fi
	md "Targets: \`nbdkit memory ${NBD_MIB}M\`; \`qemu-nbd -f raw --cache=none\` over a ${NBD_MIB} MiB file on the work file system;"
	local disks="six 4 GiB sparse disk files"
	[ "$NBD_PREALLOC" != 1 ] || disks="six 4 GiB disk files written in full at start, \`--preallocate\`, as chunk servers own whole disks in production"
	md "two Wolke volumes through \`wolke dev --nbd-addr\` on $disks (new ${NBD_MIB} MiB volumes made through the EC2 API): one of type"
	md "gp2, the default (every extent on 3 replicas), and one of type st1 (extents written whole 4+2 erasure coded, 1.5 bytes"
	md "per byte; any other write to such an extent first copies it to 3 replicas). One fio run per job,"
	md "$FIO_RUNTIME s after 1 s ramp, except seqwrite, which runs first and fills the whole device once so that"
	md "the reads find data. Plain writes are answered from Wolke's per-volume write cache (256 MiB, written back within"
	md "1 s; FLUSH makes them stable, as with a disk's volatile write cache); the -flush32 job sends a FLUSH"
	md "every 32 writes, so its writes are stable on every replica. Cells: IOPS, MB/s (10^6 B/s), p99 completion latency."
	md ""
	md "| job | nbdkit memory | qemu-nbd (file, cache=none) | Wolke gp2 volume | Wolke st1 volume |"
	md "|---|--:|--:|--:|--:|"
	local j a b c w ceil
	for j in $NBD_JOBS; do
		a=failed b=failed w=${wolke_note:-failed} c=${st1_note:-failed}
		[ -s "$RES/nbd-nbdkit-$j.json" ] && a=$(nbd_cell "$RES/nbd-nbdkit-$j.json" "$j")
		[ -s "$RES/nbd-qemu-$j.json" ] && b=$(nbd_cell "$RES/nbd-qemu-$j.json" "$j")
		[ -s "$RES/nbd-wolke-$j.json" ] && w=$(nbd_cell "$RES/nbd-wolke-$j.json" "$j")
		[ -s "$RES/nbd-wolke-st1-$j.json" ] && c=$(nbd_cell "$RES/nbd-wolke-st1-$j.json" "$j")
		md "| $j | $a | $b | $w | $c |"
	done
	md ""
	say "disk ceilings for three replicas and for 4+2 shards"
	local coded
	if ceil=$(disk_ceiling 3 1m replicas) && [ -n "$ceil" ] && coded=$(disk_ceiling 6 256k coded) && [ -n "$coded" ]; then
		local files="new sparse files"
		[ "$NBD_PREALLOC" != 1 ] || files="files written once before, as the preallocated disk files are"
		md "Ceilings of seqwrite on a new Wolke volume here. This disk took **$ceil MB/s** of new data from three writers"
		md "at once (fio, 1 MiB O_DIRECT blocks at QD8 into $files, as the chunk store writes a gp2 extent's three"
		md "replicas, which share this disk in \`wolke dev\`), so a gp2 volume cannot take more than **$((ceil / 3)) MB/s**; from six"
		md "writers of 256 KiB blocks (an st1 extent's 4+2 shards) it took **$coded MB/s**: at most **$((coded * 2 / 3)) MB/s** for st1."
	else
		md "Disk ceilings: fio failed (see \`$LOG\`)."
	fi
	md ""
}

# ---------------------------------------------------------------- f. durability
bench_durability() {
	say "durability"
	section f
	md "## f. Durability of a sample cluster"
	md ""
	md "\`$BIN bench durability --disks 600 --afr 0.02 --repair-mbps 100 --disk-size 8TB --ec 4+2 --years 10 --trials 2000 --seed 1\`"
	md ""
	timeout 300 "$BIN" bench durability --disks 600 --afr 0.02 --repair-mbps 100 --disk-size 8TB --ec 4+2 \
		--years 10 --trials 2000 --seed 1 >>"$BODY" 2>>"$LOG" || md "failed: see \`$LOG\`"
	md ""
}

# write_md [NOTE]: the report, from the sections written so far.
write_md() {
	{
		echo "# Wolke benchmarks, $DATE"
		echo
		[ -z "${1:-}" ] || { echo "$1"; echo; }
		echo "Made by \`make bench\` (scripts/bench.sh) in $(($(date +%s) - T0)) s. One machine, everything on 127.0.0.1:"
		echo "clients and servers share the CPUs, so figures are lower bounds and noisy when the machine is shared."
		echo "CSVs (gzipped: \`wolke bench compare <(zcat a.csv.gz) <(zcat b.csv.gz)\`), JSON and plots are in \`$DATE/\`."
		echo
		[ "$SECTIONS" = "a b c d e f" ] || { echo "Sections run: $SECTIONS (BENCH_SECTIONS)."; echo; }
		machine
		echo "| load average at end | $(cut -d' ' -f1-3 /proc/loadavg) |"
		echo
		cat "$WORK"/section-*.md 2>/dev/null
	} >"$MD"
	DONE=1
	say "wrote $MD"
}

# ---------------------------------------------------------------- run
want a && bench_ec
want b && bench_disk
want f && bench_durability
if want c; then
	start_dev dev
	bench_s3
	stop_dev
	rm -rf "$WORK/dev"
fi
if want d; then
	# Volumes get a cluster of their own: six 4 GiB disks, preallocated
	# unless BENCH_NBD_PREALLOCATE=0 (two 1 GiB volumes take 4.5 GiB).
	if [ "$NBD_PREALLOC" = 1 ]; then
		start_dev dev-nbd --disk-size 4GiB --preallocate
	else
		start_dev dev-nbd --disk-size 4GiB
	fi
	bench_nbd
	stop_dev
	rm -rf "$WORK/dev-nbd"
fi
want e && bench_plots
gzip -f "$RES"/*.csv 2>/dev/null || true

write_md
