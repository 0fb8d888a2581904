#!/usr/bin/env bash
# Builds the real test guest: a Debian 12 disk image from a debootstrapped
# root (stock kernel, systemd as init, serial console), with the pvmig
# package installed so that DKMS builds the module for the image's kernel.
#
#   tests/realguest/mkimage.sh DEB     prints the image directory
#   tests/realguest/mkimage.sh --base  prints the base root's tarball
#
# The directory, $PVMIG_CACHE/guest-img-<hash>, holds disk.raw (ext4, the
# root file system, no partition table), vmlinuz and initrd.img for a direct
# kernel boot (root=/dev/vda), kver, and the install log.  Two cache levels,
# like the QEMU build: the debootstrapped root (guest-img-base-<hash of the
# suite, the package list and the function that builds it>) as a tarball,
# and the image (<hash of the base, this script and the .deb>).  Guests boot
# a qcow2 overlay of disk.raw, never the cached image itself.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${PVMIG_CACHE:-/var/cache/pvmig}
suite=${PVMIG_REALGUEST_SUITE:-bookworm}
deb=${1:?usage: mkimage.sh path/to/pvmig_VERSION_ARCH.deb | --base}
die() { echo "mkimage: $*" >&2; exit 1; }
log() { echo "mkimage: $*" >&2; }
base_only=false
if [ "$deb" = --base ]; then
	base_only=true
else
	deb=$(realpath "$deb")
	[ -f "$deb" ] || die "no such package: $deb"
fi
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot)"
for t in debootstrap mkfs.ext4 sha256sum; do
	command -v "$t" >/dev/null || die "$t missing (tools/setup-host.sh installs it)"
done

# The image's packages.  linux-headers-amd64 so that DKMS can build the
# module for the image's kernel; qemu-guest-agent so that tests can run
# commands in the guest (guest-exec) without a login on the console.
PKGS=systemd-sysv,udev,kmod,linux-image-amd64,linux-headers-amd64,dkms,qemu-guest-agent,procps,ca-certificates

base_rootfs() { # DIR: a debootstrapped root with PKGS, configured to boot
	local dir=$1 mirror
	mirror=$("$root/tools/apt-suite.sh" --mirror)
	debootstrap --variant=minbase --include="$PKGS" "$suite" "$dir" "$mirror"
	echo pvmig-guest >"$dir/etc/hostname"
	printf '/dev/vda / ext4 defaults,errors=remount-ro 0 1\n' >"$dir/etc/fstab"
	# No network in the test guests; nothing should wait for it.
	chroot "$dir" systemctl mask systemd-networkd-wait-online.service \
		apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
		e2scrub_reap.service fstrim.timer >/dev/null 2>&1 || true
	chroot "$dir" passwd -d root >/dev/null
	rm -f "$dir"/var/cache/apt/archives/*.deb
}

base_key=$( { echo "$suite $PKGS"; declare -f base_rootfs; } | sha256sum | cut -c1-16)
base=$cache/guest-img-base-$base_key.tar
mkdir -p "$cache"
if ! $base_only; then
	img_key=$( { echo "$base_key"; sha256sum "$here/mkimage.sh" "$deb" | cut -d' ' -f1; } |
		sha256sum | cut -c1-16)
	img=$cache/guest-img-$img_key
fi

if ! $base_only; then
	exec 9>"$img.lock"
	flock 9
	if [ -e "$img/ok" ]; then
		log "cached: $img"
		echo "$img"
		exit 0
	fi
fi

t0=$(date +%s)
work=$(mktemp -d "$cache/guest-img-tmp.XXXXXX")
trap 'rm -rf "$work"' EXIT
rootfs=$work/root
mkdir -p "$rootfs"

(
	flock 8
	if [ ! -e "$base" ]; then
		log "debootstrap $suite (first run only)"
		mkdir -p "$work/base"
		base_rootfs "$work/base" >"$work/debootstrap.log" 2>&1 ||
			{ tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
		tar -C "$work/base" -cf "$base.tmp" . && mv "$base.tmp" "$base"
		rm -rf "$work/base"
	fi
) 8>"$base.lock"
t1=$(date +%s)
if $base_only; then
	echo "$base"
	exit 0
fi
tar -C "$rootfs" -xf "$base"

# Install the package as a user would (apt, so its Depends resolve), inside
# the chroot with /proc, /sys and /dev of the host.  The chroot's running
# kernel (uname -r) is the build host's: DKMS's postinst sees that it is not
# installed in the root and builds for the image's kernel instead, which is
# checked below.
kver=$(ls "$rootfs/lib/modules" | sort -V | tail -n 1)
[ -d "$rootfs/usr/src/linux-headers-$kver" ] || die "no headers for $kver in the image"
cleanup_mounts() {
	for m in dev/pts dev sys proc; do
		mountpoint -q "$rootfs/$m" && umount -l "$rootfs/$m"
	done
	return 0
}
trap 'cleanup_mounts; rm -rf "$work"' EXIT
mount -t proc proc "$rootfs/proc"
mount -t sysfs sysfs "$rootfs/sys"
mount --bind /dev "$rootfs/dev"
mount --bind /dev/pts "$rootfs/dev/pts"
cp "$deb" "$rootfs/tmp/"
cp /etc/resolv.conf "$rootfs/etc/resolv.conf" 2>/dev/null || true
mkdir -p "$work/out"
chroot "$rootfs" env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y --no-install-recommends "/tmp/${deb##*/}" \
	>"$work/out/install.log" 2>&1 ||
	{ tail -n 40 "$work/out/install.log" >&2; die "installing the package failed"; }
rm -f "$rootfs/tmp/${deb##*/}"
cleanup_mounts
# DKMS must have built and installed the module for the image's kernel.
ko=$(find "$rootfs/lib/modules/$kver/updates" -name 'pvmig.ko*' 2>/dev/null | head -n 1)
[ -n "$ko" ] || { tail -n 40 "$work/out/install.log" >&2; die "DKMS built no pvmig.ko for $kver"; }
grep -q "pvmig" "$rootfs/lib/modules/$kver/modules.dep" || die "pvmig.ko not in modules.dep for $kver"
t2=$(date +%s)

cp "$rootfs/boot/vmlinuz-$kver" "$work/out/vmlinuz"
cp "$rootfs/boot/initrd.img-$kver" "$work/out/initrd.img"
echo "$kver" >"$work/out/kver"
rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/lib/apt/lists/"*_Packages
truncate -s 4G "$work/out/disk.raw"
mkfs.ext4 -q -F -L pvmig-root -d "$rootfs" "$work/out/disk.raw"
t3=$(date +%s)
printf 'debootstrap_s=%d install_s=%d mkfs_s=%d total_s=%d\n' \
	$((t1 - t0)) $((t2 - t1)) $((t3 - t2)) $((t3 - t0)) >"$work/out/times"
rm -rf "$img"
mv "$work/out" "$img"
touch "$img/ok"
log "built $img ($(cat "$img/times"))"
echo "$img"
