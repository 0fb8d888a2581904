#!/usr/bin/env bash
# Every make target README.md names must exist: each is dry-run (make -n),
# which fails on a missing rule or a recipe calling a missing script.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
# Commands as README shows them: in code blocks or `make ...` spans.
targets=$(grep -oE '(^    |`)make [a-z][a-z0-9-]*( \| [a-z][a-z0-9-]*)*' README.md |
	sed -e 's/^[` ]*make //' -e 's/ | /\n/g' | sort -u)
bad=0
for t in $targets; do
	# MAKE=true: a dry run still executes recursive $(MAKE) lines, and
	# kbuild's cannot run on a tree that was never built.
	if out=$(make -n MAKE=true "$t" 2>&1); then
		# A recipe's own script must be there too.
		for script in $(grep -oE '(tests|tools)/[A-Za-z0-9_/.-]+\.sh' <<<"$out" | sort -u); do
			[ -x "$script" ] || { echo "make $t: $script is missing"; bad=1; }
		done
		echo "ok: make $t"
	else
		echo "make $t: $(grep -m1 -E '\*\*\*|[Ee]rror' <<<"$out" || tail -n 1 <<<"$out")"
		bad=1
	fi
done
exit $bad
