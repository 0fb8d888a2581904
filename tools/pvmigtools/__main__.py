"""python3 -m pvmigtools COMMAND ...  (PYTHONPATH=tools)

  soak                     a soak set, knobs from the environment
                           (tools/soak/README.md); what tools/soak/run.sh runs
  combine OUT SET.json...  several soak sets as one report
  report RUNS.json...      the side-by-side table of driver results (latest.txt)
  markdown RUNS.json       the README's headline table (latest.md)
  kvm-table RUNS.json      the README's KVM tables (kvm.md)
  plot-data RUNS.json      per scenario, size and mode: the medians plot.sh draws
  latency RUNS.json        the hint-latency table (latency.md)
"""

import json
import os
import sys

from . import soak, summary, tables
from .jqfmt import dumps

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _load(path, prog):
    try:
        with open(path) as f:
            return json.load(f)
    except OSError as e:
        raise SystemExit(_err(prog, f"{path}: {e.strerror}"))
    except ValueError as e:
        raise SystemExit(_err(prog, f"{path}: not JSON ({e})"))


def _err(prog, msg, code=2):
    print(f"{prog}: {msg}", file=sys.stderr)
    return code


def _runs(paths, prog):
    """Driver result arrays, concatenated."""
    runs = []
    for p in paths:
        a = _load(p, prog)
        if not isinstance(a, list) or not all(isinstance(r, dict) for r in a):
            raise SystemExit(_err(prog, f"{p}: not a JSON array of run objects"))
        runs += a
    return runs


def main(argv):
    if len(argv) < 1 or argv[0] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    cmd, args = argv[0], argv[1:]
    if args[:1] in (["-h"], ["--help"]):
        print(__doc__.strip())
        return 0
    if cmd == "soak":
        if args:
            return _err("soak", "takes no arguments (the knobs are environment variables)")
        return soak.main(TOP)
    if cmd == "combine":
        if len(args) < 2:
            return _err("combine", "usage: combine OUT SET.json...")
        out, sets = args[0], []
        for p in args[1:]:
            s = _load(p, "combine")
            if not summary.is_set(s):
                return _err("combine", f"{p} is not a soak summary")
            sets.append(s)
        c = summary.combine(sets)
        with open(out + ".tmp", "w") as f:
            f.write(dumps(c))
        os.replace(out + ".tmp", out)
        print(summary.combine_line(c))
        return 0
    if cmd == "report":
        if not args:
            return _err("pvmig-report", "usage: pvmig-report RUNS.json... (median [min-max] "
                        "per scenario, guest size and mode over verified runs)")
        text, failed, skipped = tables.report(_runs(args, "pvmig-report"))
        for i in skipped:
            print(f"pvmig-report: run {i} skipped (no scenario/mode)", file=sys.stderr)
        sys.stdout.write(text)
        return 1 if failed else 0
    one = {"markdown": tables.markdown, "kvm-table": tables.kvm_tables,
           "latency": tables.latency_table,
           "plot-data": tables.plot_rows}
    if cmd in one:
        if len(args) != 1:
            return _err(cmd, f"usage: {cmd} RUNS.json")
        sys.stdout.write(one[cmd](_runs(args, cmd)))
        return 0
    return _err("pvmigtools", f"unknown command {cmd!r} (--help lists them)")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
