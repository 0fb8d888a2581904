#!/usr/bin/env bash
# Prints the README's headline table from a bench result file: per scenario
# and guest size, the median total time and bytes sent of each mode over its
# verified runs ("k of n verified" when some failed), and the guest's in-use
# memory at migration start (the physical limit for bytes).  The table is
# tools/pvmigtools/tables.py (markdown).
#   markdown.sh RESULTS.json
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PYTHONPATH="$top/tools${PYTHONPATH:+:$PYTHONPATH}" exec python3 -m pvmigtools markdown "$@"
