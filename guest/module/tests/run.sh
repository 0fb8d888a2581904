#!/usr/bin/env bash
# Host side of the pvmig.ko tests: boots TCG guests that run
# pvmig-test-module (pvmig.test=module) and fails if any check fails.
# Needs the guest image with this module in it: `make guest` first.
#   guest/module/tests/run.sh [--rounds N]
set -euo pipefail

top=$(cd "$(dirname "$0")/../../.." && pwd)
guest=${GUEST_DIR:-$top/build/guest}
rounds=200
[ "${1:-}" = "--rounds" ] && rounds=$2

img=$guest/initramfs.cpio.gz
for f in "$guest/modules/pvmig.ko" "$guest/bin/pvmig-test-module" "$img"; do
	[ -e "$f" ] || { echo "tests/run.sh: $f missing; run 'make guest'" >&2; exit 2; }
done
for f in "$guest/modules/pvmig.ko" "$guest/bin/pvmig-test-module"; do
	if [ "$f" -nt "$img" ]; then
		echo "tests/run.sh: $f is newer than the guest image; run 'make guest'" >&2
		exit 2
	fi
done

failed=0
boot() {
	local name=$1 mem=$2 append=$3 log rc=0
	log=$(mktemp)
	echo "== $name: ${mem} MB, smp 2, $append"
	"$top/tools/run-guest.sh" --mem "$mem" --smp 2 --timeout 1200 \
		--append "pvmig.module=1 pvmig.test=module $append" >"$log" 2>&1 || rc=$?
	tr -d '\r' <"$log" | grep -E '^(PASS|FAIL) ' | sed "s/^/[$name] /" || true
	if [ "$rc" -ne 0 ] || tr -d '\r' <"$log" | grep -q -E '^FAIL |BUG:|Oops|WARNING: CPU'; then
		echo "== $name: FAILED (rc=$rc); console tail:"
		tr -d '\r' <"$log" | tail -n 30
		failed=1
	else
		echo "== $name: ok"
	fi
	rm -f "$log"
}

boot 1g 1024 "pvmig.test_args=--rounds=$rounds"
boot 2g 2048 "pvmig.test_args=--rounds=$rounds"
# the flags must follow the kernel's page poisoning / init_on_free state
boot 1g-page-poison 1024 "page_poison=1 pvmig.test_args=--quick"
boot 1g-init-on-free 1024 "init_on_free=1 pvmig.test_args=--quick"

if [ "$failed" -ne 0 ]; then
	echo "pvmig module tests: FAILED"
	exit 1
fi
echo "pvmig module tests: all passed"
