#!/usr/bin/env bash
# Builds pvmig.ko the way the guest package's DKMS would, from
# guest/module/dkms.conf and the module's sources, against a guest kernel:
#
#   guest/kernels/dkms-check.sh 6.12     in that kernel's cached chroot
#   guest/kernels/dkms-check.sh 6.1      on the host, its Debian 12 headers
#
# dkms runs with a private tree (--dkmstree, --sourcetree) in a temporary
# directory, so no module is registered anywhere and nothing is installed.
# Exits non-zero if dkms fails or builds no pvmig.ko.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
mod=$(cd "$here/../module" && pwd)
die() { echo "kernels/dkms-check.sh: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 6.1|6.12"
if [ "$1" = 6.1 ]; then
	command -v dkms >/dev/null || die "dkms missing; run 'make deps'"
	kver=$(ls -d /lib/modules/*-amd64/build 2>/dev/null |
		sed 's,^/lib/modules/,,; s,/build$,,' | sort -V | tail -n 1)
	[ -n "$kver" ] || die "no /lib/modules/*-amd64/build; run 'make deps'"
	root=/
	work=$(mktemp -d)
	w=$work
else
	entry=$("$here/fetch.sh" "$1")
	kver=$(cat "$entry/KVER")
	root=$entry/root
	work=$(mktemp -d "$root/tmp/dkms.XXXXXX")
	w=/tmp/${work##*/}
fi
trap 'rm -rf "$work"' EXIT
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$mod/dkms.conf")
[ -n "$version" ] || die "no PACKAGE_VERSION in $mod/dkms.conf"
mkdir -p "$work/tree" "$work/src/pvmig-$version"
# what the package ships: the module's top-level sources and dkms.conf
find "$mod" -maxdepth 1 -type f \( -name '*.[ch]' -o -name Kbuild -o -name dkms.conf \) \
	-exec cp -p -t "$work/src/pvmig-$version/" {} +
dkms() {
	nice chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C \
		dkms "$@" -m pvmig -v "$version" --dkmstree "$w/tree" --sourcetree "$w/src"
}
dkms add >"$work/dkms.log" 2>&1 || { cat "$work/dkms.log" >&2; die "dkms add failed"; }
if ! dkms build -k "$kver" >>"$work/dkms.log" 2>&1; then
	cat "$work/dkms.log" >&2
	find "$work/tree" -name make.log -exec cat {} + >&2
	die "dkms build for $kver failed"
fi
ko=$(find "$work/tree/pvmig/$version/$kver" -name 'pvmig.ko*' | head -n 1)
[ -n "$ko" ] || { cat "$work/dkms.log" >&2; die "dkms built no pvmig.ko for $kver"; }
echo "dkms-check: dkms.conf builds pvmig ${ko##*/} for $kver"
