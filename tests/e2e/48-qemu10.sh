#!/usr/bin/env bash
# QEMU 10.0 (Debian 13's, qemu/patches/10.0/): the device is built in and
# hints stay safe on it.
#   1. the binary is 10.0 and lists the pvmig device;
#   2. no hints, a guest writing while it migrates under TCG: 0 lost.
#      10.0's own TLB reset after a sync (include/exec/ram_addr.h) used a
#      block-relative address and skipped the first sync; patch 0004
#      replaces it, and an unhinted migration is what loses pages without;
#   3. the same guest with hints: fewer bytes, 0 lost, the device answered
#      its first epoch within hint-wait-ms (10.0 runs PRECOPY_NOTIFY_SETUP
#      with the BQL held, so a device that waited with it held would time
#      out every time and show the full wait);
#   4. the sweeper guest under TCG: writes to its region R right after each
#      sync, then R is hinted: every one of those writes must arrive;
#   5. the churn workload (e2e 30) on a 6.1 guest and on a 6.12 guest
#      (e2e 31's image): verified, 0 lost, hints applied;
#   6. the churn workload over multifd, 2 and 4 channels: the same;
#   7. migration through a file (file: URI with mapped-ram, --file) and
#      back, without and with hints: both verified, and with hints the
#      file takes less disk (a page never sent stays a hole);
#   8. pvmig.ko's in-guest tests (e2e 05 and 06: coverage, lock holds,
#      page poisoning, init_on_free) in 6.1 and 6.12 guests on 10.0.
# The same under KVM is e2e 49 (49-qemu10-kvm.sh).
# The test builds QEMU 10.0 first (lib.sh's use_qemu10).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
use_qemu10
qemu=$PVMIG_QEMU

version=$("$qemu" --version | head -n 1)
echo "$version"
expect_val "QEMU version 10.0.x" "$(grep -c 'version 10\.0\.' <<<"$version")" = 1
expect_val "pvmig in -device help" \
	"$("$qemu" -device help | grep -c '^name "pvmig"')" -ge 1

args=(--mem 512 --append "pvmig.fill_mb=200 pvmig.hold_mb=32 pvmig.write_kbps=1024")
migrate q10-none --mode none "${args[@]}"
expect q10-none verified = true && expect q10-none pages_lost = 0
expect q10-none dirty_log = tcg

migrate q10-pvmig --mode pvmig "${args[@]}"
t=q10-pvmig
expect $t verified = true && expect $t pages_lost = 0
expect $t pvmig.dirty_log = tcg
expect $t pvmig.rejected_messages = 0
# 200 MiB filled and freed: most of its 51200 pages must go unsent.
expect $t pages_cleared -gt 25600
expect $t transferred_bytes -lt "$(field q10-none transferred_bytes)"
# The device's default hint-wait-ms is 1000; a SETUP wait that reached it
# means the answer never got through.
expect $t pvmig.setup_wait_us -lt 1000000
echo "none: $(field q10-none transferred_bytes) bytes; pvmig:" \
	"$(field $t transferred_bytes) bytes, $(field $t pages_cleared) pages cleared," \
	"setup wait $(field $t pvmig.setup_wait_us) us"

migrate q10-sweeper-tcg --accel tcg "${sweeper_args[@]}"
expect q10-sweeper-tcg verified = true && expect q10-sweeper-tcg pages_lost = 0
expect q10-sweeper-tcg pages_cleared -ge $sweeper_min_cleared

guest_6_12_args
for k in 6.1 6.12; do
	t=q10-churn-$k
	kargs=()
	[ $k = 6.12 ] && kargs=("${guest_6_12[@]}")
	migrate $t --mode pvmig --mem 1024 --start-delay 1 "${kargs[@]}" \
		--append "$(churn_append 1)"
	expect_kernel $t $k.
	expect $t verified = true && expect $t pages_lost = 0
	expect $t pages_hinted -gt 0
done

for n in 2 4; do
	t=q10-multifd-$n
	migrate $t --mode pvmig --mem 1024 --start-delay 1 --multifd $n \
		--append "$(churn_append 2)"
	expect $t multifd_channels = $n
	expect $t verified = true && expect $t pages_lost = 0
	expect $t pages_hinted -gt 0
done

for m in none pvmig; do
	migrate q10-file-$m --mode $m --file "${args[@]}"
	expect q10-file-$m verified = true && expect q10-file-$m pages_lost = 0
done
expect q10-file-pvmig file_allocated_bytes -lt "$(field q10-file-none file_allocated_bytes)"
echo "file: none $(field q10-file-none file_allocated_bytes) bytes on disk," \
	"pvmig $(field q10-file-pvmig file_allocated_bytes)"

for k in 6.1 6.12; do
	echo "== pvmig.ko's in-guest tests, guest $k, on QEMU 10.0"
	GUEST_KERNEL=$k "$top/guest/module/tests/run.sh" --rounds 50
done
