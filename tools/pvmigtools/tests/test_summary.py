import glob
import os
import shutil
import subprocess
import unittest

import support
from pvmigtools.jqfmt import dumps
from pvmigtools.soak import bash_quote
from pvmigtools.summary import RESULTS, classify, combine, is_set, summarize


def meta(run, mode="pvmig", result="pass", guest_faults=(), **kw):
    m = {"run": run, "seed": 100 + run, "scenario": f"soak-1-{run}", "mode": mode,
         "guest_faults": list(guest_faults), "result": result}
    m.update(kw)
    return m


INFO = {"command": "N=3 SEED=1 tools/soak/run.sh", "master_seed": 1}


class Classify(unittest.TestCase):
    def test_legacy(self):
        self.assertEqual(classify(0, {}), "pass")
        self.assertEqual(classify(1, {"pages_lost": 3}), "lost")
        self.assertEqual(classify(1, {"pages_lost": 0}), "guest-check")
        self.assertEqual(classify(2, {"error": "QEMU died (signal 6)"}), "crash")
        self.assertEqual(classify(2, {}, "x\nQEMU exited 1 during the guest check\n"), "crash")
        self.assertEqual(classify(2, {"error": "source not running, after cancel"}),
                         "source-stopped")
        self.assertEqual(classify(2, {"error": "migration timed out"}), "timeout")
        self.assertEqual(classify(2, {"error": "no boot"}), "infra")
        self.assertEqual(classify(3, {"pages_lost": None}), "infra")

    def test_results_are_the_documented_ones(self):
        for fc in ("none", "lost_pages", "guest_check", "timeout", "qemu_crash",
                   "migration_failed", "setup", "other", None):
            for rc in (0, 1, 2, 137):
                self.assertIn(classify(rc, {"failure_class": fc}), RESULTS)

    def test_failure_class(self):
        cases = {"lost_pages": "lost", "guest_check": "guest-check", "timeout": "timeout",
                 "qemu_crash": "crash", "setup": "infra"}
        for fc, want in cases.items():
            # The class decides over the exit code and the error text.
            self.assertEqual(classify(2, {"failure_class": fc, "error": "timed out"}), want, fc)
            self.assertEqual(classify(0, {"failure_class": fc}), want, fc)
        self.assertEqual(classify(0, {"failure_class": "none"}), "pass")
        self.assertEqual(classify(2, {"failure_class": "migration_failed",
                                      "error": "source not running, after kill"}),
                         "source-stopped")
        self.assertEqual(classify(2, {"failure_class": "migration_failed"}), "infra")

    def test_failure_class_none_against_exit_code(self):
        # "none" with a failing exit: judged as before, not passed.
        self.assertEqual(classify(1, {"failure_class": "none", "pages_lost": 2}), "lost")
        self.assertEqual(classify(1, {"failure_class": "none"}), "guest-check")

    def test_unknown_class_falls_back(self):
        self.assertEqual(classify(1, {"failure_class": "new_kind", "pages_lost": 1}), "lost")
        self.assertEqual(classify(0, {"failure_class": ["odd"]}), "pass")


class Summary(unittest.TestCase):
    def setUp(self):
        self.meta = [
            meta(1, guest_faults=["hostile:all"]),
            meta(2, mode="none", result="lost"),
            meta(3, result="crash", guest_faults=["agent_kill", "rmmod"]),
            meta(4, guest_faults=["hostile:flood"]),
        ]
        self.runs = [
            {"scenario": "soak-1-1", "status": "completed", "verified": True, "pages_lost": 0,
             "accel": "tcg", "dirty_log": "tcg", "hops_done": 3, "faults": {"cancel": 1},
             "fault_events": [{"kind": "cancel", "injected": True}],
             "pvmig": {"rearms": 0, "rejected_invalid": 4, "rejected_no_agent": 0,
                       "stale_messages": 1, "rejected_messages": 5},
             "free_reads_zero": True, "fresh_pages_checked": 100, "fresh_pages_nonzero": 0,
             "guest_faults": {"rmmod_tries": 2}},
            {"scenario": "soak-1-2", "verified": False, "pages_lost": 7, "accel": "tcg",
             "faults": {"cancel": 1, "kill": 1},
             "fault_events": [{"kind": "reset", "injected": False}],
             "guest_faults": {"rmmod_tries": 3, "rmmod_refused_open": 1}},
            {"scenario": "soak-1-3", "verified": False, "pages_lost": 0, "hops_done": 1},
            # run 4: the driver wrote nothing
            {"scenario": "other", "pages_lost": 99},
        ]
        self.s = summarize(self.meta, self.runs, INFO)

    def test_counts(self):
        s = self.s
        self.assertEqual((s["runs"], s["passed"], s["failed"]), (4, 2, 2))
        self.assertEqual(s["lost_pages"], 7)
        self.assertEqual(s["crashes"], 1)
        self.assertEqual(s["results"], {"crash": 1, "lost": 1, "pass": 2})
        self.assertEqual(s["modes"], {"none": 1, "pvmig": 3})
        self.assertEqual(s["accel"], {"unknown": 2, "tcg": 2})
        self.assertEqual(s["init_on_free_runs"], 1)
        self.assertEqual(s["fresh_pages_checked"], 100)
        self.assertEqual(s["faults_injected"], {"cancel": 2, "kill": 1, "ping_pong_extra_hops": 2})
        self.assertEqual(s["guest_fault_runs"], {"agent_kill": 1, "hostile": 2, "rmmod": 1})
        self.assertEqual(s["hostile_attacks"], {"all": 1, "flood": 1})
        self.assertEqual(s["guest_fault_counters"], {"rmmod_refused_open": 1, "rmmod_tries": 5})
        self.assertEqual(s["faults_not_injected"], {"reset": 1})
        self.assertEqual(list(s)[:2], ["command", "master_seed"])
        self.assertEqual(list(s)[-1], "per_run")

    def test_per_run(self):
        p = self.s["per_run"]
        self.assertEqual(p[0]["rejected"], {"invalid": 4, "no_agent": 0, "stale": 1,
                                            "messages": 5})
        self.assertEqual(p[0]["rearms"], 0)
        self.assertIsNone(p[1]["rejected"])
        self.assertEqual(p[3]["status"], "no-result")
        self.assertIs(p[3]["verified"], False)
        self.assertIsNone(p[3]["pages_lost"])
        self.assertEqual(p[3]["faults_injected"], {})

    def test_empty(self):
        s = summarize([], [], INFO)
        self.assertEqual((s["runs"], s["passed"], s["lost_pages"]), (0, 0, 0))
        self.assertEqual(s["faults_injected"], {"ping_pong_extra_hops": 0})


class Combine(unittest.TestCase):
    def test_sets_tagged_and_summed(self):
        a = summarize([meta(1), meta(2, result="lost")],
                      [{"scenario": "soak-1-2", "pages_lost": 3, "faults": {"kill": 1}}], INFO)
        b = summarize([meta(1, guest_faults=["hostile:wrap"])],
                      [{"scenario": "soak-1-1", "faults": {"kill": 2, "reset": 1}}],
                      dict(INFO, master_seed=2))
        c = combine([a, b])
        self.assertEqual((c["runs"], c["passed"], c["failed"], c["lost_pages"]), (3, 2, 1, 3))
        self.assertEqual([r["set"] for r in c["per_run"]], [1, 1, 2])
        self.assertEqual([s["set"] for s in c["sets"]], [1, 2])
        self.assertNotIn("per_run", c["sets"][0])
        self.assertEqual(c["faults_injected"], {"kill": 3, "ping_pong_extra_hops": 0, "reset": 1})
        self.assertEqual(c["hostile_attacks"], {"wrap": 1})
        self.assertEqual(c["accel"], {"tcg": 3})  # sets from before accel ran under TCG

    def test_is_set(self):
        self.assertTrue(is_set({"command": "x", "per_run": []}))
        self.assertFalse(is_set({"per_run": []}))
        self.assertFalse(is_set({"command": "x"}))
        self.assertFalse(is_set([]))

    def test_committed_combination(self):
        """combine.sh of the committed sets is the committed soak.json."""
        paths = sorted(glob.glob(os.path.join(support.RESULTS, "soak", "*.json")))
        with open(os.path.join(support.RESULTS, "soak.json")) as f:
            want = f.read()
        got = dumps(combine([support.load(p) for p in paths]))
        self.assertEqual(got, want)


class Quote(unittest.TestCase):
    def test_like_bash_printf_q(self):
        if not shutil.which("bash"):
            self.skipTest("no bash")
        words = ["/work/main/build/tools/pvmig-migrate", "pvmig.seed=1 pvmig.hold_mb=2",
                 "", "a'b", 'x"y$z', "#c", "~h", "a,b;c&d|e", "--x-cancel-after", "0.5"]
        out = subprocess.run(["bash", "-c", 'printf "%q\\n" "$@"', "q"] + words,
                             capture_output=True, text=True, check=True).stdout
        self.assertEqual([bash_quote(w) for w in words], out.splitlines())


if __name__ == "__main__":
    unittest.main()
