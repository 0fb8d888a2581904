#!/usr/bin/env bash
# The guest kernels other than the host's own: a build environment for the
# module and the kernel image with its modules, cached.
#
#   guest/kernels/fetch.sh 6.12        prints the cache entry's directory
#
# 6.12 is Debian 13 (trixie)'s kernel.  The entry,
# ${PVMIG_CACHE:-/var/cache/pvmig}/guest-6.12-<hash of this script>, holds
#   root/      a minimal trixie chroot with linux-image-amd64,
#              linux-headers-amd64, gcc-14, make, perl (W=1 runs kernel-doc)
#              and dkms: the module builds
#              in it (guest/module's GUEST_KERNEL=6.12, kbuild.sh)
#   kernel/    kernel/boot/vmlinuz-$KVER and kernel/lib/modules/$KVER:
#              links to that kernel's image and modules in root/
#   KVER       that version (e.g. 6.12.57+deb13-amd64)
#   ok         written last: an entry without it is incomplete and is
#              built again from scratch
# The archive comes from the machine's own apt configuration
# (tools/apt-suite.sh --mirror); no mirror is named here.  Concurrent
# callers wait on one lock; a valid entry is used as it is.  6.1, the
# host's Debian 12 kernel, needs no entry: it is installed on the host.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cache=${PVMIG_CACHE:-/var/cache/pvmig}

die() { echo "kernels/fetch.sh: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 6.12"
case $1 in
6.12) suite=trixie gcc=gcc-14 ;;
6.1) die "6.1 is the host's kernel (linux-headers-amd64 from Debian 12): nothing to fetch" ;;
*) die "unknown guest kernel '$1' (supported: 6.1, 6.12)" ;;
esac
series=$1

hash=$(sha256sum "$0" | cut -c1-16)
entry=$cache/guest-$series-$hash
if [ -e "$entry/ok" ]; then
	echo "$entry"
	exit 0
fi

mkdir -p "$cache"
exec 9>"$entry.lock"
flock 9
if [ -e "$entry/ok" ]; then	# built while we waited
	echo "$entry"
	exit 0
fi

[ "$(id -u)" = 0 ] || die "building the $suite chroot needs root (debootstrap, chroot)"
command -v debootstrap >/dev/null || die "debootstrap missing; run 'make deps'"
mirror=$("$top/tools/apt-suite.sh" --mirror) || die "no Debian archive in the machine's apt configuration"

# An incomplete entry (no ok) is left over from a run that died: start over.
rm -rf "$entry"
tmp=$entry.tmp
rm -rf "$tmp"
mkdir -p "$tmp"
log=$tmp/fetch.log
fail() {
	tail -n 20 "$log" >&2
	die "$* (log: $log)"
}
start=$(date +%s)
echo "kernels/fetch.sh: building the $series entry (once): debootstrap $suite" >&2
nice debootstrap --variant=minbase "$suite" "$tmp/root" "$mirror" >"$log" 2>&1 ||
	fail "debootstrap $suite failed"

# apt inside the chroot: no daemons may start, nothing asks questions, and
# no initrd is made for the kernel (the test guest has its own initramfs:
# this conffile is ours, kept with --force-confold).
printf '#!/bin/sh\nexit 101\n' >"$tmp/root/usr/sbin/policy-rc.d"
chmod 0755 "$tmp/root/usr/sbin/policy-rc.d"
mkdir -p "$tmp/root/etc/initramfs-tools"
echo update_initramfs=no >"$tmp/root/etc/initramfs-tools/update-initramfs.conf"
inchroot() { nice chroot "$tmp/root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }
echo "kernels/fetch.sh: installing linux-image-amd64 linux-headers-amd64 $gcc make perl dkms" >&2
inchroot apt-get -q -y --no-install-recommends -o Dpkg::Options::=--force-confold install \
	linux-image-amd64 linux-headers-amd64 "$gcc" make perl dkms >>"$log" 2>&1 ||
	fail "apt-get install in the $suite chroot failed"
inchroot apt-get -q clean >>"$log" 2>&1

# The version the headers are for; the image must be the same one.
version_of() {
	inchroot dpkg-query -W -f '${Depends}' "$1" |
		sed -n "s/.*$2-\([^ ,]*-amd64\).*/\1/p"
}
kver=$(version_of linux-headers-amd64 linux-headers)
[ -n "$kver" ] && [ -d "$tmp/root/usr/src/linux-headers-$kver" ] ||
	fail "cannot tell the kernel version from linux-headers-amd64"
[ "$(version_of linux-image-amd64 linux-image)" = "$kver" ] ||
	fail "linux-image-amd64 and linux-headers-amd64 are for different kernels"
echo "kernels/fetch.sh: kernel $kver" >&2

# kernel/: the image and its modules, where mkinitramfs.sh looks for them
# (trixie is merged-/usr: the modules live in usr/lib/modules).
mods=$tmp/root/usr/lib/modules/$kver
[ -r "$tmp/root/boot/vmlinuz-$kver" ] || fail "no boot/vmlinuz-$kver in the chroot"
[ -d "$mods/kernel" ] || fail "no modules tree for $kver in the chroot"
mkdir -p "$tmp/kernel/boot" "$tmp/kernel/lib/modules"
ln -s "../../root/boot/vmlinuz-$kver" "$tmp/kernel/boot/vmlinuz-$kver"
ln -s "../../../root/usr/lib/modules/$kver" "$tmp/kernel/lib/modules/$kver"

echo "$kver" >"$tmp/KVER"
mv "$tmp" "$entry"
date -u +%FT%TZ >"$entry/ok"
echo "kernels/fetch.sh: $entry ready in $(($(date +%s) - start)) s" >&2
echo "$entry"
