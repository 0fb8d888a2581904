import contextlib
import io
import os
import stat
import tempfile
import unittest

import support
from pvmigtools import soak

# A stand-in for pvmig-migrate: appends a result object for its scenario
# to the --json array; the scenario ending in -2 loses pages.
FAKE_DRIVER = r'''#!/usr/bin/env python3
import json, os, sys
a = sys.argv[1:]
out, scenario = a[a.index("--json") + 1], a[a.index("--scenario") + 1]
runs = json.load(open(out)) if os.path.exists(out) else []
bad = scenario.endswith("-2")
runs.append({"scenario": scenario, "status": "completed", "verified": not bad,
             "pages_lost": 5 if bad else 0, "accel": "tcg", "dirty_log": "tcg",
             "hops_done": 2 if "--hops" in a else 1, "faults": {},
             "error": "5 pages lost" if bad else None})
json.dump(runs, open(out, "w"))
print("fake driver", " ".join(a))
sys.exit(1 if bad else 0)
'''


class Config(unittest.TestCase):
    def test_defaults(self):
        cfg, st = soak.config_from_env({"SEED": "7"})
        self.assertEqual((cfg.accel, cfg.guest, cfg.mem_min, cfg.mem_max), ("tcg", "linux", 512, 2048))
        self.assertEqual((st["n"], st["seed"]), (20, 7))
        cfg, _ = soak.config_from_env({"GUEST": "sweeper"})
        self.assertEqual((cfg.mem_min, cfg.mem_max), (64, 512))

    def test_seed_wraps_to_31_bits(self):
        _, st = soak.config_from_env({"SEED": str(2**31 + 5)})
        self.assertEqual(st["seed"], 5)

    def test_bad_input(self):
        for env in ({"N": "0"}, {"N": "x"}, {"SEED": "-1"}, {"ACCEL": "xen"},
                    {"GUEST": "bsd"}, {"FAULTS": "sometimes"}, {"IOF_PCT": "101"},
                    {"MEM_MIN": "1024", "MEM_MAX": "512"}):
            with self.assertRaises(soak.BadInput, msg=env):
                soak.config_from_env(env)


class EndToEnd(unittest.TestCase):
    """run.sh's loop against a stand-in driver: plan, run, classify, summary."""

    def setUp(self):
        self.top = tempfile.mkdtemp()
        for rel, text in (("build/tools/pvmig-migrate", FAKE_DRIVER),
                          ("build/guest/bin/pvmig-hostile",
                           "#!/bin/sh\nprintf 'garbage\\nwrap\\n'\n")):
            path = os.path.join(self.top, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, stat.S_IRWXU)
        self.out = os.path.join(self.top, "set.json")

    def tearDown(self):
        import shutil
        shutil.rmtree(self.top)

    def run_soak(self, **env):
        env = dict({"N": "3", "SEED": "2", "MEM_MAX": "1024", "OUT": self.out}, **env)
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            rc = soak.main(self.top, env)
        return rc, buf.getvalue()

    def test_set(self):
        rc, text = self.run_soak()
        self.assertEqual(rc, 1, text)
        s = support.load(self.out)
        self.assertEqual((s["runs"], s["passed"], s["failed"], s["lost_pages"]), (3, 2, 1, 5))
        self.assertEqual(s["results"], {"lost": 1, "pass": 2})
        self.assertEqual([r["result"] for r in s["per_run"]], ["pass", "lost", "pass"])
        self.assertEqual(s["per_run"][1]["replay"], f"SEED={s['per_run'][1]['seed']} N=1 tools/soak/run.sh")
        self.assertIn("--scenario soak-2-1", s["per_run"][0]["driver_command"])
        self.assertEqual(s["command"], "N=3 SEED=2 MEM_MIN=512 MEM_MAX=1024 FAULTS=random "
                         "ACCEL=tcg GUEST=linux IOF_PCT=25 RING_PCT=40 tools/soak/run.sh")
        self.assertTrue(s["finished"])
        self.assertIn("FAILED run 2: 5 pages lost", text)

    def test_keep_going_0_stops(self):
        rc, _ = self.run_soak(KEEP_GOING="0")
        self.assertEqual(rc, 1)
        self.assertEqual(support.load(self.out)["runs"], 2)

    def test_dry_run_writes_nothing(self):
        rc, text = self.run_soak(DRY_RUN="1")
        self.assertEqual(rc, 0)
        self.assertFalse(os.path.exists(self.out))
        self.assertEqual(len([l for l in text.splitlines() if l[:1].isdigit()]), 3)

    def test_missing_hostile_is_bad_input(self):
        os.unlink(os.path.join(self.top, "build/guest/bin/pvmig-hostile"))
        rc, text = self.run_soak()
        self.assertEqual(rc, 2)
        self.assertIn("make hostile", text)
        self.assertFalse(os.path.exists(self.out))


if __name__ == "__main__":
    unittest.main()
