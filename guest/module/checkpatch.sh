#!/usr/bin/env bash
# Runs the kernel's scripts/checkpatch.pl on the module's sources; exits
# non-zero if it reports any error, warning or (--strict) check.
#   guest/module/checkpatch.sh [FILE...]     default: the module's sources
#
# Debian's linux-headers packages do not ship checkpatch.pl, so the first
# run takes it from the linux-source-6.1 package (apt-get download, no
# install): only scripts/checkpatch.pl and the two data files it reads
# are unpacked, into ${PVMIG_CACHE:-/var/cache/pvmig}/checkpatch.  Later
# runs use that copy.  CHECKPATCH=/path/to/checkpatch.pl skips the fetch.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
pkg=${PVMIG_CHECKPATCH_PKG:-linux-source-6.1}
cache=${PVMIG_CACHE:-/var/cache/pvmig}/checkpatch
files=(scripts/checkpatch.pl scripts/spelling.txt scripts/const_structs.checkpatch)

die() {
	echo "checkpatch.sh: $*" >&2
	exit 2
}

# Unpack the three files from the package's tarball into $cache/$pkg.
fetch() {
	local deb tarball unz want=() f
	command -v apt-get >/dev/null || die "no apt-get: set CHECKPATCH=/path/to/checkpatch.pl"
	mkdir -p "$cache"
	tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	echo "checkpatch.sh: fetching checkpatch.pl from $pkg (once)" >&2
	if ! (cd "$tmp" && apt-get download "$pkg" >/dev/null 2>"$tmp/apt.log"); then
		cat "$tmp/apt.log" >&2
		die "apt-get download $pkg failed (run 'apt-get update' first?)"
	fi
	deb=$(ls "$tmp"/*.deb)
	tarball=$(dpkg-deb -c "$deb" | awk '{ print $NF }' |
		grep -E '^\./usr/src/linux-source-[0-9.]+\.tar\.(xz|bz2|gz)$' | head -n 1) ||
		die "$pkg: no kernel tarball in $(basename "$deb")"
	for f in "${files[@]}"; do want+=("*/$f"); done
	mkdir -p "$tmp/out"
	# Stream the inner tarball: nothing of the kernel but the three files
	# ever reaches the disk.
	case "$tarball" in
	*.xz) unz=xz ;;
	*.bz2) unz=bzip2 ;;
	*) unz=gzip ;;
	esac
	dpkg-deb --fsys-tarfile "$deb" | tar -xOf - "$tarball" | "$unz" -dc |
		tar -xf - -C "$tmp/out" --wildcards --strip-components=1 "${want[@]}"
	for f in "${files[@]}"; do
		[ -s "$tmp/out/$f" ] || die "$pkg: $f missing from its tarball"
	done
	chmod 0755 "$tmp/out/scripts/checkpatch.pl"
	basename "$deb" >"$tmp/out/SOURCE"
	rm -rf "${cache:?}/${pkg:?}"
	mv "$tmp/out" "$cache/$pkg"
}

if [ -z "${CHECKPATCH:-}" ]; then
	CHECKPATCH=$cache/$pkg/scripts/checkpatch.pl
	if [ ! -x "$CHECKPATCH" ]; then
		mkdir -p "$cache"
		exec 9>"$cache/.lock"
		flock 9
		[ -x "$CHECKPATCH" ] || fetch
		flock -u 9
	fi
fi
[ -x "$CHECKPATCH" ] || [ -r "$CHECKPATCH" ] || die "$CHECKPATCH not found"

cd "$here"
if [ $# -eq 0 ]; then
	set -- pvmig_main.c pvmig_walk.c pvmig_walk.h pvmig_compat.h pvmig_uapi.h \
		bench/listwalk/pvmig_listwalk.c
fi
# checkpatch.pl finds spelling.txt and const_structs.checkpatch beside itself.
perl "$CHECKPATCH" --no-tree --strict --terse --show-types -f "$@" ||
	{ echo "checkpatch.sh: problems found (see above)" >&2; exit 1; }
echo "checkpatch.sh: $# files clean ($(cat "$(dirname "$CHECKPATCH")/../SOURCE" 2>/dev/null || echo "$CHECKPATCH"))"
