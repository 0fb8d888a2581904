#!/usr/bin/env bash
# The real guest on Debian 13: the same checks as 80-real-guest.sh (the
# module loaded after boot, the agent's unit started by the port and only
# then, surviving the host end going away, a clean stop, a hinted and
# verified live migration), on a trixie image: Linux 6.12, its systemd,
# and the module built by DKMS at install time with trixie's gcc 14
# (tests/realguest/mkimage.sh with PVMIG_REALGUEST_SUITE=trixie, cached
# under its own key).  The package is the one 80 installs: built once on
# the Debian 12 host, for both releases.
# SKIP (77) only where it cannot run: not root, no debootstrap or no Debian
# archive for the image.
set -euo pipefail
. "$(dirname "$0")/../realguest/preflight.sh"
realguest_preflight "debootstrap, chroot"

t0=$(date +%s)
deb=$("$top/guest/packaging/build-deb.sh" --no-lintian | tail -n 1)
img=$(PVMIG_REALGUEST_SUITE=trixie "$top/tests/realguest/mkimage.sh" "$deb")
kver=$(cat "$img/kver")
echo "package: $deb; image: $img (kernel $kver, $(( $(date +%s) - t0 )) s)"
case $kver in
6.12.*) ;;
*) echo "FAILED: the trixie image's kernel is $kver, not 6.12" >&2; exit 1 ;;
esac
mkdir -p "$top/build/check/json" "$top/build/run"
json=$top/build/check/json/real-guest-13.json
nice python3 "$top/tests/realguest/realguest.py" --img "$img" --qemu "$qemu" \
	--json "$json"
python3 - "$json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
k = r.get("ports", {}).get("guest_kernel", "")
if not k.startswith("6.12."):
    sys.exit(f"FAILED: the guest ran kernel {k!r}, not 6.12")
print(f"guest kernel {k}")
PY
echo "total $(( $(date +%s) - t0 )) s"
