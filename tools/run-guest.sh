#!/usr/bin/env bash
# Boots the test guest under TCG with its console on stdout.  For in-guest
# tests (pvmig.test=NAME): exits with the test's rc once the guest prints
# PVMIG-TEST-DONE, or 124 on timeout.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
mem=1024 smp=1 timeout=600 append= extra=
qemu=${PVMIG_QEMU:-$top/build/qemu/qemu-system-x86_64}
[ -x "$qemu" ] || qemu=$(command -v qemu-system-x86_64 || true)
kernel=$top/build/guest/vmlinuz
initrd=$top/build/guest/initramfs.cpio.gz

usage() {
	echo "usage: run-guest.sh [--mem MB] [--smp N] [--append ARGS] [--timeout S]" >&2
	echo "                    [--qemu PATH] [--extra 'QEMU ARGS']" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case "$1" in
	--mem) mem=$2; shift 2 ;;
	--smp) smp=$2; shift 2 ;;
	--append) append=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--qemu) qemu=$2; shift 2 ;;
	--extra) extra=$2; shift 2 ;;
	*) usage ;;
	esac
done
[ -n "$qemu" ] && [ -x "$qemu" ] || { echo "run-guest: no QEMU; run 'make qemu'" >&2; exit 3; }
[ -r "$kernel" ] && [ -r "$initrd" ] || { echo "run-guest: no guest image; run 'make guest'" >&2; exit 3; }

log=$(mktemp)
trap 'rm -f "$log"' EXIT
# shellcheck disable=SC2086
timeout --foreground -k 5 "$timeout" "$qemu" -accel tcg -machine pc -m "$mem" -smp "$smp" \
	-nic none -display none -no-reboot -L /usr/share/qemu -L /usr/share/seabios \
	-kernel "$kernel" -initrd "$initrd" \
	-append "console=ttyS0 quiet panic=-1 $append" -serial stdio -monitor none \
	$extra </dev/null | tee "$log" || true
rc=$(sed -n 's/.*PVMIG-TEST-DONE rc=\([0-9]*\).*/\1/p' "$log" | tail -n 1)
if [ -z "$rc" ]; then
	echo "run-guest: no PVMIG-TEST-DONE line (timeout ${timeout}s or guest crash)" >&2
	exit 124
fi
exit "$rc"
