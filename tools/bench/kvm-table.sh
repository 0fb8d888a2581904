#!/usr/bin/env bash
# The README's KVM tables from tools/bench/kvm.sh's result file: medians
# over verified runs of each mode and dirty-log mode, and the re-arm's cost
# per sync against guest size.  The tables are tools/pvmigtools/tables.py
# (kvm_tables).
#   kvm-table.sh bench/results/kvm.json
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PYTHONPATH="$top/tools${PYTHONPATH:+:$PYTHONPATH}" exec python3 -m pvmigtools kvm-table "$@"
