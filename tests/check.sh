#!/usr/bin/env bash
# `make check`: unit tests of every part, then end-to-end tests that boot
# real guests under TCG and migrate them.  Prints one PASS/FAIL line per
# test and a closing "N passed, N failed" line; exits non-zero on failure.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
logs=$top/build/check
mkdir -p "$logs"
passed=0 failed=0 skipped=0 failures=

run() {	# run NAME CMD...: the command's output goes to build/check/NAME.log
	local name=$1 start=$SECONDS rc
	shift
	echo "=== $name: $*"
	"$@" >"$logs/$name.log" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		passed=$((passed + 1))
		echo "PASS $name ($((SECONDS - start))s)"
	elif [ $rc -eq 77 ]; then
		# A test that cannot run here says why; it is not a pass.
		skipped=$((skipped + 1))
		echo "SKIP $name: $(grep -m1 '^SKIP' "$logs/$name.log" || echo 'no reason given')"
	else
		failed=$((failed + 1))
		failures="$failures $name"
		echo "FAIL $name (rc=$rc, $((SECONDS - start))s); last lines of build/check/$name.log:"
		tail -n 30 "$logs/$name.log" | sed 's/^/    /'
	fi
	return $rc
}

# Unit tests print their framework's own summary lines.
unit() {
	local name=$1
	shift
	run "$name" "$@"
	grep -E '^\[(=+| +(PASSED|FAILED) +)\]' "$logs/$name.log" | sed 's/^/    /'
}

# --e2e (make e2e): only the end-to-end tests.
if [ "${1:-}" != --e2e ]; then
	unit unit-proto make -C proto check
	unit unit-agent make -C guest/agent check
	unit unit-migrate make -C tools/migrate check
	unit unit-qemu make -C qemu/tests/unit check
	unit unit-pvmigtools python3 -m unittest discover -s tools/pvmigtools/tests
	run readme-targets tests/readme-targets.sh
fi

if run build make qemu guest tools; then
	run lint tools/lint.sh
	for t in tests/e2e/[0-9]*.sh; do
		run "e2e-$(basename "$t" .sh)" "$t"
	done
fi

echo
[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
