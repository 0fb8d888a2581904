#!/usr/bin/env bash
# Builds pvmig's patched QEMU 7.2 (x86_64-softmmu only) and links
# build/qemu/qemu-system-x86_64 to it.
#
# QEMU's source comes from Debian's source package, fetched once into
# $PVMIG_CACHE/src.  Each build lives in $PVMIG_CACHE/qemu-<hash>, where
# <hash> covers build.sh, patches/, hw/ and proto/'s library (all compiled into
# QEMU), so an edit to either gives a fresh build and an unchanged tree
# reuses the old one.  A build entry counts as valid only when its stamp
# (written last) exists and its binary answers --version.
#
# PVMIG_QEMU_VARIANT=asan builds the same sources with AddressSanitizer and
# UndefinedBehaviorSanitizer (QEMU's --enable-sanitizers) into
# $PVMIG_CACHE/qemu-asan-<hash>, linked as build/qemu-asan/qemu-system-x86_64,
# for the end-to-end test that feeds the device hostile guest input.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
cache=${PVMIG_CACHE:-/var/cache/pvmig}
jobs=${PVMIG_JOBS:-2}
variant=${PVMIG_QEMU_VARIANT:-default}
case $variant in
default) variant_cfg=() entry_prefix=qemu link_dir="$repo/build/qemu" ;;
asan)	# 7.2's configure probes UBSan with a program that gcc 12 warns
	# about (-Werror=maybe-uninitialized) and then quietly leaves UBSan
	# out, so ask for it explicitly.
	variant_cfg=(--enable-sanitizers --extra-cflags=-fsanitize=undefined
		--extra-ldflags=-fsanitize=undefined)
	entry_prefix=qemu-asan link_dir="$repo/build/qemu-asan" ;;
*)	printf 'qemu/build.sh: error: PVMIG_QEMU_VARIANT must be default or asan, not "%s"\n' \
		"$variant" >&2
	exit 2 ;;
esac

log() { printf 'qemu/build.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Prints the last lines of a failed step's log, then exits.
fail_with_log() {
	log "error: $1 failed; last lines of $2:"
	tail -n 40 "$2" >&2 || true
	exit 1
}

if [ -x "$repo/tools/setup-host.sh" ] && [ -z "${PVMIG_SKIP_SETUP:-}" ]; then
	"$repo/tools/setup-host.sh" || die "tools/setup-host.sh failed"
fi
for tool in apt-get dpkg-source meson ninja patch flock sha256sum; do
	command -v "$tool" >/dev/null || die "$tool not found (run tools/setup-host.sh)"
done

mkdir -p "$cache/src" || die "cannot create $cache (set PVMIG_CACHE to a writable directory)"

# Hash of what goes into the binary: this script, the patches, our device
# sources and the wire-format library (not the tests or docs of either, so
# editing a test does not cost a QEMU build).
src_hash=$(cd "$repo" &&
	{ find qemu/build.sh qemu/patches qemu/hw -type f ! -name '*~' ! -name '.*.swp' -print0
	  find proto -maxdepth 1 -type f \( -name '*.c' -o -name '*.h' \
		-o -name sources.txt -o -name meson.build \) -print0; } |
	LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
entry="$cache/$entry_prefix-$src_hash"
binary="$entry/build/qemu-system-x86_64"

entry_valid() {
	[ -e "$entry/stamp" ] && [ -x "$binary" ] &&
		"$binary" --version >/dev/null 2>&1
}

link_binary() {
	mkdir -p "$link_dir"
	ln -sfn "$binary" "$link_dir/qemu-system-x86_64"
	log "$("$binary" --version | head -n 1)"
	log "${link_dir#"$repo"/}/qemu-system-x86_64 -> $binary"
}

if entry_valid; then
	log "reusing cached build $entry"
	link_binary
	exit 0
fi

# Debian's source package, fetched once (it is large) and never modified.
fetch_source() {
	exec 9>"$cache/src.lock"
	flock 9
	if [ ! -e "$cache/src/stamp" ]; then
		log "fetching QEMU source with apt-get source (once)"
		rm -rf "$cache/src.tmp"
		mkdir -p "$cache/src.tmp"
		(cd "$cache/src.tmp" && apt-get source qemu) \
			>"$cache/src-fetch.log" 2>&1 ||
			fail_with_log "apt-get source qemu (are deb-src entries enabled? run tools/setup-host.sh)" \
				"$cache/src-fetch.log"
		rm -rf "$cache/src"
		mv "$cache/src.tmp" "$cache/src"
		touch "$cache/src/stamp"
	fi
	exec 9>&-
}
fetch_source
pristine=$(find "$cache/src" -mindepth 1 -maxdepth 1 -type d -name 'qemu-7.2*' | head -n 1)
[ -n "$pristine" ] && [ -e "$pristine/meson.build" ] ||
	die "no qemu-7.2 tree in $cache/src; remove $cache/src and retry"

# One builder per entry; a second caller waits, then reuses the result.
exec 8>"$entry.lock"
flock 8
if entry_valid; then
	log "reusing cached build $entry (built meanwhile)"
	link_binary
	exit 0
fi

start=$(date +%s)
rm -rf "$entry"
mkdir -p "$entry"
log "preparing source tree in $entry/src"
cp -a "$pristine" "$entry/src"

# Our glue: the patch to QEMU's own files, then our directory and the
# shared wire-format sources, copied (not linked) so the entry matches its
# hash even if the repository changes later.
for p in "$here"/patches/*.patch; do
	[ -e "$p" ] || continue
	log "applying patches/$(basename "$p")"
	patch -d "$entry/src" -p1 --forward --batch <"$p" >"$entry/patch.log" 2>&1 ||
		fail_with_log "patch $(basename "$p")" "$entry/patch.log"
done
cp -a "$here/hw/pvmig" "$entry/src/hw/pvmig"
mkdir -p "$entry/src/hw/pvmig/proto"
cp -a "$repo"/proto/. "$entry/src/hw/pvmig/proto/"

log "configuring (x86_64-softmmu only, variant $variant)"
mkdir -p "$entry/build"
(cd "$entry/build" && ../src/configure \
	--target-list=x86_64-softmmu \
	--without-default-features \
	--enable-tcg --enable-kvm --enable-slirp --enable-fdt=system \
	--enable-trace-backends=log \
	--disable-docs --disable-install-blobs "${variant_cfg[@]}") \
	>"$entry/configure.log" 2>&1 ||
	fail_with_log configure "$entry/configure.log"

log "building qemu-system-x86_64 with ninja -j$jobs (several minutes on 2 cores)"
# ninja's status line goes to the log; show a progress line every 30 s.
(cd "$entry/build" && ninja -j"$jobs" qemu-system-x86_64) \
	>"$entry/build.log" 2>&1 &
ninja_pid=$!
while kill -0 "$ninja_pid" 2>/dev/null; do
	sleep 30 & wait $! || true
	kill -0 "$ninja_pid" 2>/dev/null || break
	step=$(grep -o '^\[[0-9]*/[0-9]*\]' "$entry/build.log" | tail -n 1 || true)
	log "building ${step:-...} ($(( $(date +%s) - start )) s)"
done
wait "$ninja_pid" || fail_with_log "ninja" "$entry/build.log"

"$binary" --version >/dev/null 2>&1 || die "built binary does not run: $binary"
date -u +%FT%TZ >"$entry/stamp"
log "built in $(( $(date +%s) - start )) s"
link_binary
