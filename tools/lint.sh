#!/usr/bin/env bash
# `make lint`: every static check the project holds its code to.
#   user-space C   cppcheck, clang-tidy (checks in .clang-tidy)
#   pvmig.ko       the kernel's scripts/checkpatch.pl (guest/module/checkpatch.sh)
#   QEMU device    QEMU's scripts/checkpatch.pl, from the QEMU source
#                  qemu/build.sh unpacked (run `make qemu` first), on
#                  hw/pvmig and on both patch series
# Prints one line per check and exits non-zero if any found something.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
cache=${PVMIG_CACHE:-/var/cache/pvmig}
failed=

# The user-space C sources and the include paths they build with.
user_c=(proto/*.c guest/agent/*.c tools/migrate/*.c
	guest/workload/*.c guest/hostile/*.c guest/sweeper/abcheck.c)
includes=(-Iproto -Iguest/module -Iguest/agent -Itools/migrate)

check() {	# check NAME CMD...: runs it, output to build/lint/NAME.log
	local name=$1 log=build/lint/$1.log
	shift
	mkdir -p build/lint
	if "$@" >"$log" 2>&1; then
		echo "lint $name: clean"
	else
		echo "lint $name: FOUND PROBLEMS (build/lint/$name.log):"
		sed 's/^/    /' "$log" | head -n 40
		failed+=" $name"
	fi
}

run_cppcheck() {
	# jansson's iteration macros are unknown to cppcheck without its header.
	cppcheck --quiet --error-exitcode=1 --inline-suppr --std=c11 \
		--enable=warning,portability,performance -D__GNUC__ \
		--include=/usr/include/jansson.h "${includes[@]}" "${user_c[@]}"
}

run_clang_tidy() {
	local out
	out=$(clang-tidy --quiet "${user_c[@]}" -- -std=c11 -D_GNU_SOURCE \
		"${includes[@]}" 2>&1 | grep -v '^[0-9]* warnings\? generated')
	[ -z "$(grep -E 'warning:|error:' <<<"$out")" ] || { echo "$out"; return 1; }
}

run_qemu_checkpatch() {
	local cp
	cp=$(ls "$cache"/src/qemu-*/scripts/checkpatch.pl 2>/dev/null | head -n 1)
	if [ -z "$cp" ]; then
		echo "no QEMU source in $cache/src: run 'make qemu' first"
		return 1
	fi
	"$cp" --no-tree --terse -f qemu/hw/pvmig/*.[ch] || return 1
	# The patch series, as a QEMU maintainer would check them.
	"$cp" --no-tree --terse qemu/patches/*.patch qemu/patches/10.0/*.patch
}

check cppcheck run_cppcheck
check clang-tidy run_clang_tidy
check kernel-checkpatch guest/module/checkpatch.sh
check qemu-checkpatch run_qemu_checkpatch

[ -z "$failed" ] || { echo "lint failed:$failed"; exit 1; }
echo "lint: all clean"
