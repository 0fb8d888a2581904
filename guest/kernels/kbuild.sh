#!/usr/bin/env bash
# Builds an external module (Kbuild directory) against a fetched guest
# kernel, inside that kernel's cached build chroot (guest/kernels/fetch.sh):
# its headers expect its own compiler (6.12: gcc-14), which the host has not.
#
#   guest/kernels/kbuild.sh 6.12 DIR [MAKE-ARGS...]    e.g. W=1 modules
#
# DIR's sources (*.c, *.h, Kbuild) are copied into a private directory in the chroot, built
# there with make -C /usr/src/linux-headers-$KVER M=..., and the *.ko files
# come back to DIR.  The chroot itself is not changed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
die() { echo "kernels/kbuild.sh: $*" >&2; exit 1; }

[ $# -ge 2 ] || die "usage: $0 SERIES DIR [MAKE-ARGS...]"
series=$1 dir=$2
shift 2
[ -f "$dir/Kbuild" ] || die "$dir has no Kbuild file"
entry=$("$here/fetch.sh" "$series")
kver=$(cat "$entry/KVER")
root=$entry/root

work=$(mktemp -d "$root/tmp/kbuild.XXXXXX")
trap 'rm -rf "$work"' EXIT
# only the sources: objects from another kernel's build must not be reused
find "$dir" -maxdepth 1 -type f \( -name '*.[ch]' -o -name Kbuild \) \
	-exec cp -p -t "$work/" {} +
nice chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C \
	make -C "/usr/src/linux-headers-$kver" M="/tmp/${work##*/}" "$@"
shopt -s nullglob
kos=("$work"/*.ko)
[ ${#kos[@]} -gt 0 ] || die "no .ko built in $dir against $kver"
cp "${kos[@]}" "$dir/"
