#!/usr/bin/env bash
# Every make target README.md names must exist: each is dry-run (make -n),
# which fails on a missing rule or a recipe calling a missing script.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
targets=$( { grep -oE 'make [a-z][a-z0-9-]*( \| [a-z][a-z0-9-]*)*' README.md |
	sed -e 's/^make //' -e 's/ | /\n/g'; } | sort -u)
bad=0
for t in $targets; do
	if out=$(make -n "$t" 2>&1); then
		# A recipe's own script must be there too.
		for script in $(grep -oE '(tests|tools)/[A-Za-z0-9_/.-]+\.sh' <<<"$out" | sort -u); do
			[ -x "$script" ] || { echo "make $t: $script is missing"; bad=1; }
		done
		echo "ok: make $t"
	else
		echo "make $t: $(tail -n 1 <<<"$out")"
		bad=1
	fi
done
exit $bad
