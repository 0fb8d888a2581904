import json
import os
import unittest

import support
from pvmigtools import tables


def load(name):
    with open(os.path.join(support.RESULTS, name)) as f:
        return json.load(f)


def committed(name):
    with open(os.path.join(support.RESULTS, name)) as f:
        return f.read()


def run(mode, ok=True, **kw):
    r = {"scenario": "idle", "guest_mb": 1024, "mode": mode, "verified": ok,
         "total_ms": 1000, "transferred_bytes": 100 << 20, "guest_free_kb": 824 * 1024,
         "pages_lost": 0}
    r.update(kw)
    return r


class Committed(unittest.TestCase):
    """The committed tables come out of the committed results unchanged."""

    def test_latest_md(self):
        self.assertEqual(tables.markdown(load("latest.json")), committed("latest.md"))

    def test_kvm_md(self):
        self.assertEqual(tables.kvm_tables(load("kvm.json")), committed("kvm.md"))

    def test_latest_txt(self):
        # latest.txt may start with the command that made the results.
        want = committed("latest.txt")
        if want.startswith("command:"):
            want = want.split("\n", 1)[1]
        runs = load("latest.json")
        text, failed, skipped = tables.report(runs)
        self.assertEqual(text, want)
        self.assertEqual(failed, sum(1 for r in runs if r.get("verified") is not True))
        self.assertEqual(skipped, [])


class Synthetic(unittest.TestCase):
    def test_markdown_cells(self):
        runs = [run("none", total_ms=2000), run("none", total_ms=3000),
                run("pvmig", total_ms=1250, transferred_bytes=10 << 20),
                run("pvmig", ok=False, total_ms=99999),
                run("balloon", ok=False)]
        lines = tables.markdown(runs).splitlines()
        self.assertEqual(lines[2], "| idle | 1 | 2.5 s, 100 MiB | 0 of 1 verified | "
                                   "1.3 s, 10 MiB (1 of 2 verified) | 200 MiB |")

    def test_report_spread_and_failures(self):
        runs = [run("pvmig", total_ms=t) for t in (100, 300, 200)] + [
            run("pvmig", ok=False, total_ms=5, pages_lost=4)]
        text, failed, _ = tables.report(runs)
        row = text.splitlines()[1]
        self.assertIn("3/4", row)
        self.assertIn("200 [100-300]", row)
        self.assertTrue(row.endswith("       4"))
        self.assertEqual(failed, 1)
        self.assertIn("1 run(s) failed verification", text)

    def test_report_skips_runs_without_scenario(self):
        _, _, skipped = tables.report([run("none"), {"mode": "none"}])
        self.assertEqual(skipped, [1])

    def test_kvm_missing_figure_is_a_dash(self):
        runs = [{"scenario": "modes", "dirty_log": "ring", "mode": "none", "verified": False,
                 "pages_lost": 0}]
        self.assertIn("| ring | none | 0 of 1 | - | - | 0 |", tables.kvm_tables(runs))

    def test_plot_rows(self):
        rows = tables.plot_rows([run("pvmig", total_ms=10), run("pvmig", total_ms=21)])
        self.assertEqual(rows, "idle\t1024\tpvmig\t15.5\t100\t200\n")


if __name__ == "__main__":
    unittest.main()


class Production(unittest.TestCase):
    """Production runs (no hint log) lead a cell; their verified twins'
    time follows; an unverified production run is not a failure."""

    def prod(self, mode, **kw):
        fields = {"hint_log": False, "status": "completed", "failure_class": "none"}
        fields.update(kw)
        return run(mode, ok=False, **fields)

    def test_markdown_cell(self):
        runs = [run("pvmig", hint_log=True, total_ms=3000),
                self.prod("pvmig", total_ms=300, transferred_bytes=50 << 20)]
        line = tables.markdown(runs).splitlines()[2]
        self.assertIn("0.3 s, 50 MiB; verified 3.0 s", line)

    def test_failed_production_run(self):
        runs = [run("pvmig", hint_log=True),
                self.prod("pvmig", status="failed", failure_class="migration_failed")]
        line = tables.markdown(runs).splitlines()[2]
        self.assertIn("0 of 1 completed", line)

    def test_report_marks_production(self):
        text, failed, _ = tables.report([run("none"), self.prod("none")])
        self.assertEqual(failed, 0)
        self.assertIn(" none*", text)
        self.assertIn("mode*: production runs", text)

    def test_reporting_column_only_when_run(self):
        self.assertNotIn("reporting", tables.markdown([run("none")]))
        self.assertIn("reporting", tables.markdown([run("reporting")]))
