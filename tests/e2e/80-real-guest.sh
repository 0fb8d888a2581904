#!/usr/bin/env bash
# The real guest: a Debian 12 image (debootstrap, stock kernel, systemd)
# with the pvmig package from `make deb` installed, DKMS building the module
# for the image's kernel (tests/realguest/mkimage.sh, cached under
# $PVMIG_CACHE/guest-img-<hash>).  Under TCG with our QEMU
# (tests/realguest/realguest.py):
#   1. the module is loaded after boot; without the org.pvmig.0 port the
#      agent does not run and is not restarted;
#   2. a hot-added port starts it; it sends HELLO each time the host end
#      connects and survives the host end closing (same PID); unplugging the
#      port stops it cleanly; the pvmig device hot-added starts it again;
#      `systemctl stop` is clean;
#   3. a live migration of that guest is hinted and verified: no page lost
#      (the RAM comparison, excused only by the hint log) and a checksummed
#      file in the guest's tmpfs intact on the destination;
#   4. the package on the image's base without kernel headers
#      (tests/realguest/noheaders.sh): installs, DKMS says it skipped the
#      module build, the agent's unit is enabled.
# SKIP (77) only where it cannot run: not root, no debootstrap, or no
# Debian archive in the machine's apt configuration.
set -euo pipefail
. "$(dirname "$0")/../realguest/preflight.sh"
realguest_preflight "debootstrap, chroot"

t0=$(date +%s)
deb=$("$top/guest/packaging/build-deb.sh" --no-lintian | tail -n 1)
t1=$(date +%s)
img=$("$top/tests/realguest/mkimage.sh" "$deb")
t2=$(date +%s)
echo "package: $deb ($((t1 - t0)) s); image: $img ($((t2 - t1)) s)"
"$top/tests/realguest/noheaders.sh" "$deb"
mkdir -p "$top/build/check/json" "$top/build/run"
nice python3 "$top/tests/realguest/realguest.py" --img "$img" --qemu "$qemu" \
	--json "$top/build/check/json/real-guest.json"
echo "total $(( $(date +%s) - t0 )) s"
