#!/usr/bin/env bash
# A verified pvmig migration with churn (as 30-pvmig-churn.sh) of a guest
# running Debian 13's 6.12 kernel with pvmig.ko built for it, on our QEMU.
# Builds the 6.12 image if needed (the first run fetches the kernel).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
nice make -s -C "$top" guest GUEST_KERNEL=6.12
img=$top/build/guest-6.12
migrate churn-6.12 --mode pvmig --mem 1024 --start-delay 1 \
	--kernel "$img/vmlinuz" --initrd "$img/initramfs.cpio.gz" \
	--append "pvmig.seed=1 pvmig.fill_mb=300 pvmig.churn_mb=200 pvmig.hold_mb=32 pvmig.write_kbps=4096"
case $(field churn-6.12 guest_kernel_version) in
6.12.*) echo "ok: guest kernel $(field churn-6.12 guest_kernel_version)" ;;
*) echo "FAILED: guest kernel $(field churn-6.12 guest_kernel_version), not 6.12" >&2; exit 1 ;;
esac
expect churn-6.12 pages_lost = 0
expect churn-6.12 verified = true
expect churn-6.12 pages_hinted -gt 0
