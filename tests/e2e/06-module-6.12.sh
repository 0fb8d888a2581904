#!/usr/bin/env bash
# 05's in-guest pvmig.ko tests on Debian 13's 6.12 kernel: the module built
# against 6.12 in the cached trixie chroot, in build/guest-6.12's image.
# First dkms.conf must build it for 6.12 as the guest package's DKMS would.
# Builds what it needs; the first run fetches the 6.12 kernel and chroot
# (guest/kernels/fetch.sh), later runs find them in the cache.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
nice make -s -C "$top" guest GUEST_KERNEL=6.12
"$top/guest/kernels/dkms-check.sh" 6.12
GUEST_KERNEL=6.12 exec "$top/tests/e2e/05-module.sh"
