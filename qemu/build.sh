#!/usr/bin/env bash
# Builds pvmig's patched QEMU (x86_64-softmmu only) and links
# build/qemu/qemu-system-x86_64 to it.
#
# PVMIG_QEMU_VERSION selects the QEMU: 7.2 (the default, Debian 12's) or
# 10.0 (Debian 13's).
#
#   7.2   source: `apt-get source qemu` (the host's suite), once, into
#         $PVMIG_CACHE/src; patches: patches/*.patch; meson: the host's;
#         entry $PVMIG_CACHE/qemu-<hash>, link build/qemu/.
#   10.0  source: trixie's qemu source package through tools/apt-suite.sh
#         (the host's apt is left alone), once, into $PVMIG_CACHE/src-10.0;
#         patches: patches/10.0/*.patch; meson: 10.0 needs >= 1.5, so
#         bookworm-backports' meson .deb (pure Python) unpacked into a venv,
#         once, in $PVMIG_CACHE/meson-<version>, handed to configure as its
#         --python; entry $PVMIG_CACHE/qemu-10.0-<hash>, link build/qemu-10.0/.
#
# <hash> covers build.sh, that version's patches, hw/ and proto/'s library
# (all compiled into QEMU), so an edit to either gives a fresh build and an
# unchanged tree reuses the old one.  A build entry counts as valid only
# when its stamp (written last) exists and its binary answers --version.
# The patches go into a fresh copy of the pristine source, which replaces
# the entry's src/ only once all of them applied; a patch that does not
# apply stops the build and shows its rejected hunks.
#
# PVMIG_QEMU_VARIANT=asan builds the same sources with AddressSanitizer and
# UndefinedBehaviorSanitizer into $PVMIG_CACHE/qemu-asan[-10.0]-<hash>,
# linked as build/qemu-asan[-10.0]/qemu-system-x86_64, for the end-to-end
# test that feeds the device hostile guest input.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
cache=${PVMIG_CACHE:-/var/cache/pvmig}
jobs=${PVMIG_JOBS:-2}
variant=${PVMIG_QEMU_VARIANT:-default}
version=${PVMIG_QEMU_VERSION:-7.2}
case $version in
7.2)	src_dir="$cache/src" patch_dir="$here/patches" suffix= ;;
10.0)	src_dir="$cache/src-10.0" patch_dir="$here/patches/10.0" suffix=-10.0
	# bookworm-backports' meson; QEMU 10.0 wants >= 1.5.
	meson_suite=bookworm-backports meson_version=1.7.0 ;;
*)	printf 'qemu/build.sh: error: PVMIG_QEMU_VERSION must be 7.2 or 10.0, not "%s"\n' \
		"$version" >&2
	exit 2 ;;
esac
case $variant in
default) variant_cfg=() entry_prefix=qemu$suffix link_dir="$repo/build/qemu$suffix" ;;
asan)	if [ "$version" = 7.2 ]; then
		# 7.2's configure probes UBSan with a program that gcc 12
		# warns about (-Werror=maybe-uninitialized) and then quietly
		# leaves UBSan out, so ask for it explicitly.
		variant_cfg=(--enable-sanitizers --extra-cflags=-fsanitize=undefined
			--extra-ldflags=-fsanitize=undefined)
	else
		# 10.0 has separate switches and fails if UBSan is missing.
		variant_cfg=(--enable-asan --enable-ubsan)
	fi
	entry_prefix=qemu-asan$suffix link_dir="$repo/build/qemu-asan$suffix" ;;
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
tools=(apt-get dpkg-source ninja patch flock sha256sum)
if [ "$version" = 7.2 ]; then
	tools+=(meson)
else
	tools+=(dpkg-deb "${PVMIG_PYTHON:-/usr/bin/python3}")
fi
for tool in "${tools[@]}"; do
	command -v "$tool" >/dev/null || die "$tool not found (run tools/setup-host.sh)"
done

mkdir -p "$src_dir" || die "cannot create $cache (set PVMIG_CACHE to a writable directory)"

# Hash of what goes into the binary: this script, this version's patches
# (7.2's are patches/*.patch, so a change to the 10.0 series does not cost
# a 7.2 build), our device sources and the wire-format library (not the
# tests or docs of either, so editing a test does not cost a QEMU build).
src_hash=$(cd "$repo" &&
	{ find qemu/build.sh qemu/hw -type f ! -name '*~' ! -name '.*.swp' -print0
	  find "${patch_dir#"$repo"/}" -maxdepth 1 -type f ! -name '*~' ! -name '.*.swp' -print0
	  find proto -maxdepth 1 -type f \( -name '*.c' -o -name '*.h' \
		-o -name sources.txt -o -name meson.build -o -name '*.c.in' \) -print0; } |
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
# apt-get source unpacks it with dpkg-source, which applies debian/patches
# (for 10.0 these include disable-pycotap.patch and
# skip-unpack-edk2-blobs.patch, which the +ds tarball, without python/wheels
# and firmware blobs, needs to configure).
fetch_source() {
	local fetch=(apt-get source qemu)
	local hint="are deb-src entries enabled? run tools/setup-host.sh"

	if [ "$version" = 10.0 ]; then
		fetch=("$repo/tools/apt-suite.sh" trixie source qemu)
		hint="tools/apt-suite.sh trixie source qemu"
	fi
	exec 9>"$src_dir.lock"
	flock 9
	if [ ! -e "$src_dir/stamp" ]; then
		log "fetching QEMU $version source with ${fetch[*]} (once)"
		rm -rf "$src_dir.tmp"
		mkdir -p "$src_dir.tmp"
		(cd "$src_dir.tmp" && "${fetch[@]}") >"$src_dir-fetch.log" 2>&1 ||
			fail_with_log "${fetch[*]} ($hint)" "$src_dir-fetch.log"
		rm -rf "$src_dir"
		mv "$src_dir.tmp" "$src_dir"
		touch "$src_dir/stamp"
	fi
	exec 9>&-
}
fetch_source
# Debian names the tree after the upstream version and its repack suffix:
# qemu-7.2+dfsg, qemu-10.0.13+ds.
pristine=$(find "$src_dir" -mindepth 1 -maxdepth 1 -type d -name "qemu-$version[.+]*" | head -n 1)
[ -n "$pristine" ] && [ -e "$pristine/meson.build" ] ||
	die "no qemu-$version tree in $src_dir; remove $src_dir and retry"

# QEMU 10.0's configure wants meson >= 1.5 and Debian 12 has 1.0.  The
# bookworm-backports .deb is pure Python: unpack it into a venv of the
# host's Python, once.  configure runs with that venv's python3, and the
# venv QEMU makes for itself (pyvenv/) inherits its packages.
meson_python=
setup_meson() {
	local venv="$cache/meson-$meson_version" py=${PVMIG_PYTHON:-/usr/bin/python3}
	local site deb got

	exec 9>"$venv.lock"
	flock 9
	if [ ! -e "$venv/stamp" ]; then
		log "setting up meson $meson_version from $meson_suite in $venv (once)"
		# Built in place (a venv names its own path), valid once the
		# stamp exists.
		rm -rf "$venv" "$venv.deb"
		mkdir -p "$venv.deb"
		{ (cd "$venv.deb" &&
			"$repo/tools/apt-suite.sh" "$meson_suite" download "meson/$meson_suite") &&
		  deb=$(find "$venv.deb" -maxdepth 1 -name "meson_${meson_version}-*_all.deb" | head -n 1) &&
		  [ -n "$deb" ] &&
		  dpkg-deb -x "$deb" "$venv.deb/root" &&
		  "$py" -m venv "$venv" &&
		  site=$("$venv/bin/python3" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') &&
		  cp -a "$venv.deb/root/usr/lib/python3/dist-packages/." "$site/"; } \
			>"$venv-setup.log" 2>&1 ||
			fail_with_log "meson $meson_version setup (is $meson_suite's meson still $meson_version?)" \
				"$venv-setup.log"
		rm -rf "$venv.deb"
		got=$("$venv/bin/python3" -c 'from mesonbuild import coredata; print(coredata.version)' \
			2>>"$venv-setup.log") || true
		[ "$got" = "$meson_version" ] ||
			fail_with_log "meson $meson_version check (got \"$got\")" "$venv-setup.log"
		touch "$venv/stamp"
	fi
	exec 9>&-
	meson_python="$venv/bin/python3"
}
python_cfg=()
if [ "$version" = 10.0 ]; then
	setup_meson
	python_cfg=(--python="$meson_python")
fi

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
cp -a "$pristine" "$entry/src.tmp"

# Our glue: the patches to QEMU's own files, then our directory and the
# shared wire-format sources, copied (not linked) so the entry matches its
# hash even if the repository changes later.  All into src.tmp, which
# becomes src only when every patch applied.
patches=("$patch_dir"/*.patch)
[ -e "${patches[0]}" ] || die "no patches in ${patch_dir#"$repo"/}"
for p in "${patches[@]}"; do
	name=${p#"$here"/}
	log "applying $name"
	if ! patch -d "$entry/src.tmp" -p1 --forward --batch <"$p" >"$entry/patch.log" 2>&1; then
		log "error: $name does not apply to $(basename "$pristine"):"
		sed 's/^/  /' "$entry/patch.log" >&2
		find "$entry/src.tmp" -name '*.rej' -print0 | LC_ALL=C sort -z |
			while IFS= read -r -d '' rej; do
				log "rejected hunks, ${rej#"$entry/src.tmp/"}:"
				cat "$rej" >&2
			done
		rm -rf "$entry/src.tmp"
		die "$name failed; nothing was built (the log is $entry/patch.log)"
	fi
done
cp -a "$here/hw/pvmig" "$entry/src.tmp/hw/pvmig"
mkdir -p "$entry/src.tmp/hw/pvmig/proto"
cp -a "$repo"/proto/. "$entry/src.tmp/hw/pvmig/proto/"
mv "$entry/src.tmp" "$entry/src"

log "configuring QEMU $version (x86_64-softmmu only, variant $variant)"
mkdir -p "$entry/build"
# Every build here is a test build: the end-to-end tests and the bench
# compare source and destination RAM, which needs the test-only hint log
# (--enable-pvmig-hint-log, the series' last patch).  A product build
# leaves it out; the device then has no hint-log code at all.
(cd "$entry/build" && ../src/configure \
	--target-list=x86_64-softmmu \
	--without-default-features \
	--enable-tcg --enable-kvm --enable-slirp --enable-fdt=system \
	--enable-trace-backends=log --enable-pvmig-hint-log \
	--disable-docs --disable-install-blobs "${python_cfg[@]}" "${variant_cfg[@]}") \
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
