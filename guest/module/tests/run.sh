#!/usr/bin/env bash
# Host side of the pvmig.ko tests: boots TCG guests that run
# pvmig-test-module (pvmig.test=module) and fails if any check fails.
# Needs the guest image with this module in it: `make guest` first
# (`make guest GUEST_KERNEL=6.12` for GUEST_KERNEL=6.12).
#   [GUEST_KERNEL=6.1|6.12] guest/module/tests/run.sh [--rounds N]
# GUEST_KERNEL chooses the image: 6.1 (default) is build/guest/, 6.12 is
# build/guest-6.12/; the test program is build/guest/bin's for both.
set -euo pipefail

top=$(cd "$(dirname "$0")/../../.." && pwd)
kernel=${GUEST_KERNEL:-6.1}
case $kernel in
6.1) guest=${GUEST_DIR:-$top/build/guest} ;;
6.12) guest=${GUEST_DIR:-$top/build/guest-$kernel} ;;
*) echo "tests/run.sh: GUEST_KERNEL=$kernel is not supported (supported: 6.1, 6.12)" >&2; exit 2 ;;
esac
bin=$top/build/guest/bin
rounds=200
[ "${1:-}" = "--rounds" ] && rounds=$2
make_hint="make guest$([ "$kernel" = 6.1 ] || echo " GUEST_KERNEL=$kernel")"

img=$guest/initramfs.cpio.gz
for f in "$guest/modules/pvmig.ko" "$bin/pvmig-test-module" "$guest/vmlinuz" "$img"; do
	[ -e "$f" ] || { echo "tests/run.sh: $f missing; run '$make_hint'" >&2; exit 2; }
done
for f in "$guest/modules/pvmig.ko" "$bin/pvmig-test-module"; do
	if [ "$f" -nt "$img" ]; then
		echo "tests/run.sh: $f is newer than the guest image; run '$make_hint'" >&2
		exit 2
	fi
done
# tools/run-guest.sh boots build/guest/ and has no option for another
# image; QEMU takes the last -kernel and -initrd it is given, so these,
# appended through --extra (which run-guest.sh splits at spaces), choose it.
case $guest in
*[[:space:]]*) echo "tests/run.sh: $guest: a path with spaces cannot be passed on" >&2; exit 2 ;;
esac
image_args="-kernel $guest/vmlinuz -initrd $img"

failed=0
oops_re='BUG:|Oops|WARNING: CPU|invalid opcode|general protection fault|Kernel panic'
# One guest boot running the in-guest tests; console in $log, status in $rc.
run_boot() {
	rc=0
	"$top/tools/run-guest.sh" --mem "$mem" --smp 2 --timeout 1200 --extra "$image_args" \
		--append "pvmig.module=1 pvmig.test=module $append" >"$log" 2>&1 || rc=$?
}

boot() {
	local name=$1 mem=$2 append=$3 log rc=0 booted oops
	log=$(mktemp)
	echo "== $name: ${mem} MB, smp 2, $append"
	run_boot
	# A kernel that panics before /init has run (no "pvmig-init:" line)
	# never reached our module: under TCG, trixie's 6.12 does so about
	# once in 40 boots.  That boot, and only that one, is tried again, and
	# the log says so; a second such panic fails the test.
	if ! tr -d '\r' <"$log" | grep -q '^pvmig-init: kernel ' &&
	   tr -d '\r' <"$log" | grep -q 'Kernel panic'; then
		echo "[$name] the kernel panicked before /init ran; its first lines:"
		tr -d '\r' <"$log" | grep -m1 -A12 -E "$oops_re" | sed "s/^/[$name]   /"
		echo "[$name] booting once more"
		run_boot
	fi
	tr -d '\r' <"$log" | grep -E '^(PASS|FAIL) ' | sed "s/^/[$name] /" || true
	booted=$(tr -d '\r' <"$log" | sed -n 's/^pvmig-init: kernel //p' | head -n 1)
	case $booted in
	"$kernel".*) echo "[$name] kernel $booted" ;;
	*)
		echo "[$name] FAIL booted kernel '${booted:-unknown}', not $kernel"
		[ "$rc" -ne 0 ] || rc=1
		;;
	esac
	if [ "$rc" -ne 0 ] || tr -d '\r' <"$log" | grep -q -E '^FAIL |BUG:|Oops|WARNING: CPU'; then
		echo "== $name: FAILED (rc=$rc)"
		# the start of the first oops says what failed, the tail where it ended
		oops=$(tr -d '\r' <"$log" | grep -n -m1 -E "$oops_re" | cut -d: -f1 || true)
		if [ -n "$oops" ]; then
			echo "== $name: console from the first oops (line $oops):"
			tr -d '\r' <"$log" | sed -n "$((oops > 5 ? oops - 5 : 1)),$((oops + 40))p"
		fi
		echo "== $name: console tail:"
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
