#!/usr/bin/env bash
# Builds the test guest: Debian's kernel and a busybox initramfs holding
# the virtio modules, our modules and our guest binaries.
#   mkinitramfs.sh OUT_DIR   (reads OUT_DIR/bin/* and OUT_DIR/modules/*.ko)
set -euo pipefail

out=${1:?usage: mkinitramfs.sh OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
kver=${KVER:-$(ls /lib/modules | grep -E -- '-amd64$' | sort -V | tail -n 1)}
if [ -z "$kver" ] || [ ! -e "/boot/vmlinuz-$kver" ]; then
	echo "mkinitramfs: no Debian guest kernel; run 'make deps'" >&2
	exit 1
fi
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
for m in virtio virtio_ring virtio_pci virtio_pci_modern_dev \
	virtio_pci_legacy_dev virtio_console virtio_balloon; do
	f=$(find "/lib/modules/$kver/kernel" -name "$m.ko*" | head -n 1)
	[ -n "$f" ] || { echo "mkinitramfs: module $m not found" >&2; exit 1; }
	cp "$f" "$mods/kernel/"
done
shopt -s nullglob
for f in "$out"/modules/*.ko; do cp "$f" "$mods/extra/"; done
for f in "$out"/bin/*; do install -m 0755 "$f" "$root/usr/bin/"; done
for f in modules.order modules.builtin modules.builtin.modinfo; do
	cp "/lib/modules/$kver/$f" "$mods/" 2>/dev/null || true
done
depmod -b "$root" "$kver"

cp "/boot/vmlinuz-$kver" "$out/vmlinuz"
(cd "$root" && find . | cpio -o -H newc --quiet) | gzip -1 >"$out/initramfs.cpio.gz.tmp"
mv "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"
echo "guest: $out/vmlinuz ($kver), $out/initramfs.cpio.gz ($(du -h "$out/initramfs.cpio.gz" | cut -f1))"
