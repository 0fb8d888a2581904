#!/usr/bin/env bash
# Builds the test guest: a Debian kernel and a busybox initramfs holding
# the virtio modules, our modules and our guest binaries.
#   mkinitramfs.sh [--kernel VMLINUZ --modules-tree DIR] [--bin DIR] OUT_DIR
# reads OUT_DIR/modules/*.ko and the programs in --bin (default OUT_DIR/bin);
# writes OUT_DIR/vmlinuz and OUT_DIR/initramfs.cpio.gz.  Without --kernel
# the kernel is the host's /boot/vmlinuz-$KVER with /lib/modules/$KVER;
# with it, --modules-tree is that kernel's lib/modules/<version> (e.g. the
# 6.12 tree from guest/kernels/fetch.sh), whose name is the version.
set -euo pipefail

usage() {
	echo "usage: mkinitramfs.sh [--kernel VMLINUZ --modules-tree DIR] [--bin DIR] OUT_DIR" >&2
	exit 2
}
kernel='' tree='' bindir=''
while [ $# -gt 1 ]; do
	case "$1" in
	--kernel) kernel=$2; shift 2 ;;
	--modules-tree) tree=$2; shift 2 ;;
	--bin) bindir=$2; shift 2 ;;
	*) usage ;;
	esac
done
[ $# -eq 1 ] && [ "${1#-}" = "$1" ] || usage
out=$1
bindir=${bindir:-$out/bin}
here=$(cd "$(dirname "$0")" && pwd)
if [ -n "$kernel" ] || [ -n "$tree" ]; then
	[ -n "$kernel" ] && [ -n "$tree" ] || {
		echo "mkinitramfs: --kernel and --modules-tree go together" >&2
		exit 2
	}
	[ -r "$kernel" ] || { echo "mkinitramfs: no kernel image $kernel" >&2; exit 1; }
	[ -d "$tree/kernel" ] || { echo "mkinitramfs: $tree is not a modules tree" >&2; exit 1; }
	tree=$(cd "$tree" && pwd)
	kver=${tree##*/}
else
	kver=${KVER:-$(ls /lib/modules | grep -E -- '-amd64$' | sort -V | tail -n 1)}
	if [ -z "$kver" ] || [ ! -e "/boot/vmlinuz-$kver" ]; then
		echo "mkinitramfs: no Debian guest kernel; run 'make deps'" >&2
		exit 1
	fi
	kernel=/boot/vmlinuz-$kver
	tree=/lib/modules/$kver
fi
[ -d "$bindir" ] || { echo "mkinitramfs: no program directory $bindir" >&2; exit 1; }
busybox=/bin/busybox	# busybox-static's binary
if ! [ -x "$busybox" ]; then
	echo "mkinitramfs: busybox-static missing; run 'make deps'" >&2
	exit 1
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc}
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
	[ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
install -m 0755 "$here/init" "$root/init"

mods=$root/lib/modules/$kver
mkdir -p "$mods/kernel" "$mods/extra"
# Busybox's modprobe hands the file to the kernel as it is, so compressed
# modules (6.12's are .ko.xz) are unpacked here.  A module built into the
# kernel (modules.builtin) needs no file.
for m in virtio virtio_ring virtio_pci virtio_pci_modern_dev \
	virtio_pci_legacy_dev virtio_console virtio_balloon; do
	f=$(find "$tree/kernel" -name "$m.ko*" | head -n 1)
	if [ -z "$f" ]; then
		grep -q -E "/${m}\.ko\$" "$tree/modules.builtin" 2>/dev/null && continue
		echo "mkinitramfs: module $m not found in $tree" >&2
		exit 1
	fi
	case "$f" in
	*.ko) cp "$f" "$mods/kernel/" ;;
	*.ko.xz) xz -dc "$f" >"$mods/kernel/$m.ko" ;;
	*.ko.zst) zstd -q -dc "$f" >"$mods/kernel/$m.ko" ;;
	*.ko.gz) gzip -dc "$f" >"$mods/kernel/$m.ko" ;;
	*) echo "mkinitramfs: $f: unknown module compression" >&2; exit 1 ;;
	esac
done
shopt -s nullglob
for f in "$out"/modules/*.ko; do cp "$f" "$mods/extra/"; done
for f in "$bindir"/*; do install -m 0755 "$f" "$root/usr/bin/"; done
for f in modules.order modules.builtin modules.builtin.modinfo; do
	cp "$tree/$f" "$mods/" 2>/dev/null || true
done
depmod -b "$root" "$kver"

# Each file is written under a private name and renamed into place, so a
# guest booting meanwhile, or another build of the same image, never sees
# half a file.
mkdir -p "$out"
kernel_tmp=$(mktemp "$out/.vmlinuz.XXXXXX")
img_tmp=$(mktemp "$out/.initramfs.XXXXXX")
trap 'rm -rf "$root" "$kernel_tmp" "$img_tmp"' EXIT
cp "$kernel" "$kernel_tmp"
(cd "$root" && find . | cpio -o -H newc --quiet) | gzip -1 >"$img_tmp"
chmod 0644 "$kernel_tmp" "$img_tmp"
mv "$kernel_tmp" "$out/vmlinuz"
mv "$img_tmp" "$out/initramfs.cpio.gz"
echo "guest: $out/vmlinuz ($kver), $out/initramfs.cpio.gz ($(du -h "$out/initramfs.cpio.gz" | cut -f1))"
