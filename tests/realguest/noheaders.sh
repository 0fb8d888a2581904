#!/usr/bin/env bash
# The package on a guest without kernel headers (the issue's bad input):
#
#   tests/realguest/noheaders.sh DEB
#
# Unpacks the image's debootstrapped base (mkimage.sh --base), purges its
# linux-headers packages and installs the package with dpkg in a chroot.
# The install must succeed, DKMS must say that it skipped the module build
# for lack of headers, no pvmig.ko may appear, and the agent's unit must be
# installed and enabled (it then runs and reports no module in HELLO).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${PVMIG_CACHE:-/var/cache/pvmig}
deb=$(realpath "${1:?usage: noheaders.sh DEB}")
fail() { echo "FAILED: noheaders: $*" >&2; exit 1; }

base=$("$here/mkimage.sh" --base)
root=$(mktemp -d "$cache/guest-img-tmp.XXXXXX")
trap 'mountpoint -q "$root/proc" && umount -l "$root/proc"; rm -rf "$root"' EXIT
tar -C "$root" -xf "$base"
kver=$(ls "$root/lib/modules" | sort -V | tail -n 1)
chroot "$root" sh -c 'dpkg --purge $(dpkg-query -W -f "\${db:Status-Abbrev} \${Package}\n" "linux-headers-*" |
	awk "/^ii/ { print \$2 }")' >/dev/null
[ ! -e "$root/lib/modules/$kver/build" ] || fail "headers still installed for $kver"
cp "$deb" "$root/tmp/pvmig.deb"
mount -t proc proc "$root/proc"
rc=0
chroot "$root" env DEBIAN_FRONTEND=noninteractive dpkg -i /tmp/pvmig.deb >"$root/install.log" 2>&1 || rc=$?
umount -l "$root/proc"
sed 's/^/    /' "$root/install.log"
[ "$rc" = 0 ] || fail "dpkg -i exited $rc without headers"
grep -q "skipped since the" "$root/install.log" &&
	grep -q "kernel headers for this kernel do not seem to be installed" "$root/install.log" ||
	fail "no message about the missing headers"
chroot "$root" dpkg-query -W -f '${Status}\n' pvmig | grep -qx "install ok installed" ||
	fail "package not configured"
[ -z "$(find "$root/lib/modules" -name 'pvmig.ko*')" ] || fail "a pvmig.ko appeared without headers"
[ -x "$root/usr/sbin/pvmig-agent" ] || fail "agent not installed"
[ -L "$root/etc/systemd/system/dev-virtio\\x2dports-org.pvmig.0.device.wants/pvmig-agent.service" ] ||
	fail "pvmig-agent.service not enabled"
echo "ok: without headers the package installs, DKMS says why it built nothing, the agent's unit is enabled"
