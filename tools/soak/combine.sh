#!/usr/bin/env bash
# Combines the summaries of several soak sets (each written by
# tools/soak/run.sh, with its own command, seed and commit) into one report:
# totals over all runs, the sets as they were run, and every run tagged with
# its set, so each still replays with its own seed at its own commit.
# The work is tools/pvmigtools/summary.py (combine).
#
#   tools/soak/combine.sh OUT SET.json...
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PYTHONPATH="$top/tools${PYTHONPATH:+:$PYTHONPATH}" exec python3 -m pvmigtools combine "$@"
