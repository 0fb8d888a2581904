#!/usr/bin/env bash
# Installs what pvmig needs on a Debian 12 host: build tools, the guest
# kernel and busybox, and QEMU's build dependencies.  Idempotent: a stamp
# keyed by the package list makes the second run a no-op.
set -euo pipefail

PKGS=(
	build-essential pkg-config git ca-certificates dpkg-dev
	ninja-build meson libglib2.0-dev libpixman-1-dev libfdt-dev
	libslirp-dev zlib1g-dev flex bison python3-venv bzip2 xz-utils
	qemu-system-x86 qemu-system-data seabios qemu-utils
	linux-image-amd64 linux-headers-amd64 busybox-static cpio
	libjansson-dev libcmocka-dev clang libclang-rt-14-dev llvm
	gnuplot-nox kmod jq
	debhelper dh-dkms dkms lintian debootstrap
	libvirt-daemon-system libvirt-clients
)

stamp_dir=${PVMIG_CACHE:-/var/cache/pvmig}
stamp="$stamp_dir/host-deps.$(printf '%s\n' "${PKGS[@]}" | sha256sum | cut -c1-16)"
[ -e "$stamp" ] && exit 0

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo

# Source entries are not enabled by default.  Derive deb-src entries from
# the machine's own apt configuration so no mirror is ever named here.
src_list=/etc/apt/sources.list.d/pvmig-src.sources
if [ ! -e "$src_list" ]; then
	if [ -e /etc/apt/sources.list.d/debian.sources ]; then
		sed -e 's/^Types:.*/Types: deb-src/' \
			/etc/apt/sources.list.d/debian.sources |
			$SUDO tee "$src_list" >/dev/null
	elif [ -e /etc/apt/sources.list ]; then
		grep -E '^deb[[:space:]]' /etc/apt/sources.list |
			sed -e 's/^deb[[:space:]]/deb-src /' |
			$SUDO tee /etc/apt/sources.list.d/pvmig-src.list >/dev/null
	fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${PKGS[@]}"

$SUDO mkdir -p "$stamp_dir"
$SUDO touch "$stamp"
