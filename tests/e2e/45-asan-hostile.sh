#!/usr/bin/env bash
# Issue 7: the device's handling of guest input under AddressSanitizer and
# UndefinedBehaviorSanitizer.  A hostile guest sends each attack it knows
# (garbage, oversized, out-of-range, overlapping, stale, future epochs,
# floods, wrapping ranges, dribbled and truncated messages, contradictory
# free-page claims: the list `pvmig-hostile --list` prints), one migration
# each, to a sanitizer build of QEMU; then a well-behaved agent's hints go
# through the same build.  Every migration must verify, and no QEMU may
# report a memory error, undefined behaviour, or a leak in the device.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PVMIG_QEMU_VARIANT=asan PVMIG_SKIP_SETUP=1 "$top/qemu/build.sh"
qemu=$top/build/qemu-asan/qemu-system-x86_64
# A build that quietly lost a sanitizer would pass everything below.
libs=$(ldd "$qemu")
for lib in libasan libubsan; do
	grep -q "$lib" <<<"$libs" || { echo "$qemu is not linked with $lib" >&2; exit 1; }
done
reports=$top/build/check/sanitizer
rm -rf "$reports"
mkdir -p "$reports"
# Each QEMU writes its reports to $reports/<kind>.<pid>.  A memory error
# or undefined behaviour aborts QEMU at once (the driver then fails the
# run); leaks are reported when QEMU exits.
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1:log_path=$reports/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan"

# One migration per attack: after the first invalid message the device
# ignores the port until the guest reopens it, so a guest that tried every
# attack in one migration would only exercise the first.
common="pvmig.fill_mb=200 pvmig.hold_mb=32 pvmig.write_kbps=1024"
# Every attack the hostile guest knows (a new one cannot be forgotten here).
attacks=$("$top/build/guest/bin/pvmig-hostile" --list)
# What each attack must show in the device's counters.  A flood of valid
# HELLOs is not an error: the device must keep reading (bytes received) and
# reject nothing.  A hang-up mid-header drops the partial message with the
# connection and refuses hints for the rest of the migration (no agent).
# A HELLO claiming init_on_free with poisoning is refused as contradictory.
# Only the overlap attack's leading valid chunk (256 pages) may be hinted.
expected_counter() {
	case "$1" in
	flood) echo bytes_received ;;
	future) echo stale_messages ;;
	truncate) echo rejected_no_agent ;;
	contradict) echo rejected_contract ;;
	garbage | oversized | out-of-range | overlap | stale | wrap | dribble)
		echo rejected_invalid ;;
	*) echo "no expectation for the hostile attack '$1': add one" >&2
	   exit 1 ;;
	esac
}
for a in $attacks; do
	if [ "$a" = overlap ]; then
		# Its leading valid chunk names 256 pages the guest chose
		# without looking: if they were in use the guest has hurt
		# itself, and its own check may fail or hang (so the driver
		# may exit non-zero), but no page it did not name may differ.
		migrate "asan-$a" --qemu "$qemu" --mode pvmig --mem 512 --timeout 900 \
			--check-timeout 60 \
			--append "$common pvmig.agent=0 pvmig.hostile=$a" --quiet || true
		expect "asan-$a" status = completed
		expect "asan-$a" pages_lost = 0
	else
		migrate "asan-$a" --qemu "$qemu" --mode pvmig --mem 512 --timeout 900 \
			--append "$common pvmig.agent=0 pvmig.hostile=$a" --quiet
		expect "asan-$a" verified = true
	fi
	counter=$(expected_counter "$a") || exit 1
	seen=$(field "asan-$a" "pvmig.$counter")
	hinted=$(field "asan-$a" pages_hinted)
	rejected=$(field "asan-$a" pvmig.rejected_messages)
	echo "attack $a under ASan/UBSan: verified, $hinted pages hinted," \
		"$counter $seen, $rejected rejected in all"
	expect_val "asan-$a pvmig.$counter" "$seen" -ge 1
	if [ "$a" = overlap ]; then
		expect_val "asan-$a pages_hinted" "$hinted" -le 256
	else
		expect_val "asan-$a pages_hinted" "$hinted" -eq 0
	fi
	if [ "$a" = flood ]; then
		expect_val "asan-flood rejected_messages" "$rejected" -eq 0
		expect_val "asan-flood bytes_received" "$seen" -ge 65536
	fi
done

common="pvmig.fill_mb=300 pvmig.hold_mb=32 pvmig.write_kbps=1024"
migrate asan-agent --qemu "$qemu" --mode pvmig --mem 1024 --timeout 900 \
	--append "$common"
expect asan-agent verified = true
hinted=$(field asan-agent pages_hinted)
echo "agent under ASan/UBSan: $hinted pages hinted"
expect_val "asan-agent pages_hinted" "$hinted" -gt 0

status=0
for f in "$reports"/*; do
	[ -e "$f" ] || continue
	if grep -q 'ERROR: AddressSanitizer\|runtime error:' "$f"; then
		echo "sanitizer report in $f:"
		status=1
	elif grep -q 'LeakSanitizer' "$f" && grep -q 'hw/pvmig/' "$f"; then
		echo "leak in the device, report in $f:"
		status=1
	elif grep -q 'LeakSanitizer' "$f"; then
		echo "leaks outside the device (QEMU's own exit-time leaks) in $f"
		continue
	else
		echo "no errors in $f, only: $(head -c 120 "$f")"
		continue
	fi
	head -n 40 "$f"
done
[ "$status" = 0 ] && echo "no sanitizer reports from the device"
exit "$status"
