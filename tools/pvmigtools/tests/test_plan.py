import glob
import json
import os
import re
import stat
import tempfile
import unittest

import support
from pvmigtools import plan as P
from pvmigtools.rng import Rng, hash31, next_seed

# The attack list the committed sets were planned with.
ATTACKS_BEFORE_LIST = ("garbage", "oversized", "out-of-range", "overlap", "stale", "flood",
                       "future", "wrap", "dribble", "truncate")


def linux(**kw):
    kw.setdefault("attacks", ATTACKS_BEFORE_LIST + ("contradict",))
    return P.Config(**kw)


def seeds(first, n):
    s = [first]
    while len(s) < n:
        s.append(next_seed(s[-1]))
    return s


class Rngs(unittest.TestCase):
    def test_known_values(self):
        # The generator the soak always used: a seed must keep naming the
        # same draws, or old replay commands would replay other runs.
        # (values from the bash implementation: sha256sum | cut -c1-8, and
        # its LCG's rnd 1 100)
        self.assertEqual(hash31("plan-7"), 0x2a004203 % 2**31)
        r = Rng(hash31("plan-7"))
        self.assertEqual([r.rnd(1, 100) for _ in range(5)], [94, 64, 8, 28, 26])
        self.assertEqual(next_seed(7), 797868106)
        self.assertEqual(next_seed(1), 78806533)

    def test_rnd_in_range(self):
        r = Rng(1)
        vals = [r.rnd(3, 5) for _ in range(500)]
        self.assertEqual(set(vals), {3, 4, 5})

    def test_empty_range_is_an_error(self):
        with self.assertRaises(ValueError):
            Rng(1).rnd(5, 4)


class Plans(unittest.TestCase):
    def test_same_seed_same_plan(self):
        for cfg in (linux(), linux(faults="always", iof_pct=100),
                    P.Config(guest="sweeper", accel="kvm", mem_min=64, mem_max=512)):
            for s in seeds(12345, 50):
                self.assertEqual(P.plan(s, cfg), P.plan(s, cfg))

    def test_seeds_give_different_plans(self):
        plans = {json.dumps(P.plan(s, linux()).__dict__) for s in seeds(1, 50)}
        self.assertGreater(len(plans), 45)

    def test_within_knobs(self):
        cfg = linux(mem_min=512, mem_max=1024)
        for s in seeds(3, 300):
            p = P.plan(s, cfg)
            self.assertTrue(512 <= p.mem <= 1024, p)
            self.assertEqual(p.mem % 128, 0)
            self.assertGreaterEqual(p.bw * p.downtime, 32000, p)
            self.assertIn(p.mode, ("pvmig", "none", "balloon"))
            if p.mode != "pvmig":
                self.assertEqual(p.guest_faults, [])
            self.assertIn(f"pvmig.seed={s}", p.append)

    def test_faults_always(self):
        for accel in ("tcg", "kvm"):
            cfg = linux(faults="always", accel=accel)
            for s in seeds(9, 200):
                p = P.plan(s, cfg)
                self.assertTrue(any(a.startswith("--x-") or a == "--hops" for a in p.fault_args), p)

    def test_iof(self):
        on = [P.plan(s, linux(iof_pct=100)) for s in seeds(5, 40)]
        off = [P.plan(s, linux(iof_pct=0)) for s in seeds(5, 40)]
        self.assertTrue(all("init_on_free=1" in p.append for p in on))
        self.assertFalse(any("init_on_free=1" in p.append for p in off))

    def test_hostile_from_list(self):
        cfg = linux(attacks=("alpha", "beta"))
        drawn = set()
        for s in seeds(11, 3000):
            for f in P.plan(s, cfg).guest_faults:
                if f.startswith("hostile:"):
                    drawn.add(f[len("hostile:"):])
        self.assertEqual(drawn, {"all", "alpha", "beta"})

    def test_hostile_needs_a_list(self):
        cfg = linux(attacks=())
        with self.assertRaises(ValueError):
            for s in seeds(11, 3000):
                P.plan(s, cfg)

    def test_sweeper_ring_cap(self):
        cfg = P.Config(guest="sweeper", accel="kvm", mem_min=64, mem_max=512, ring_pct=100)
        for s in seeds(2, 100):
            p = P.plan(s, cfg)
            self.assertIn("--dirty-ring", p.fault_args)
            self.assertLessEqual(p.mem, 128)
        cfg.ring_pct = 0
        self.assertFalse(any("--dirty-ring" in P.plan(s, cfg).fault_args for s in seeds(2, 100)))

    def test_committed_sets_replay(self):
        """The plans of the committed sets made since the init_on_free draw
        and the 128 MiB ring cap, recomputed from their seeds and command
        knobs, are what those sets ran."""
        checked = 0
        for path in sorted(glob.glob(os.path.join(support.RESULTS, "soak", "*.json"))):
            s = support.load(path)
            kv = dict(re.findall(r"(\w+)=(\S+)", s["command"]))
            if "RING_PCT" not in kv and kv.get("GUEST") != "sweeper":
                continue  # before the init_on_free draw
            if s["started"] < "2026-12-01T21:30":
                continue  # before the ring cap
            cfg = P.Config(accel=kv["ACCEL"], guest=kv["GUEST"], mem_min=int(kv["MEM_MIN"]),
                           mem_max=int(kv["MEM_MAX"]), faults=kv["FAULTS"],
                           iof_pct=int(kv["IOF_PCT"]), ring_pct=int(kv.get("RING_PCT", 40)),
                           attacks=ATTACKS_BEFORE_LIST)
            for r in s["per_run"]:
                p = P.plan(r["seed"], cfg)
                got = (p.mode, p.mem, p.smp, p.workload, p.append, p.bw, p.downtime,
                       float(p.delay), " ".join(p.fault_args), p.guest_faults)
                want = (r["mode"], r["guest_mb"], r["smp"], r["workload"], r["append"],
                        r["bandwidth_mibs"], r["downtime_limit_ms"], float(r["start_delay_s"]),
                        r["driver_faults"], r["guest_faults"])
                self.assertEqual(got, want, f"{path} run {r['run']}")
                checked += 1
        self.assertGreaterEqual(checked, 100)


class HostileList(unittest.TestCase):
    def _script(self, body):
        fd, path = tempfile.mkstemp(suffix=".sh")
        os.write(fd, ("#!/bin/sh\n" + body + "\n").encode())
        os.close(fd)
        os.chmod(path, stat.S_IRWXU)
        self.addCleanup(os.unlink, path)
        return path

    def test_reads_names(self):
        path = self._script('[ "$1" = --list ] && printf "a\\nb-c\\n"')
        self.assertEqual(P.hostile_attacks(path), ("a", "b-c"))

    def test_missing_binary(self):
        with self.assertRaisesRegex(ValueError, "make hostile"):
            P.hostile_attacks("/nonexistent/pvmig-hostile")

    def test_failing_or_empty(self):
        with self.assertRaises(ValueError):
            P.hostile_attacks(self._script("exit 2"))
        with self.assertRaises(ValueError):
            P.hostile_attacks(self._script("true"))

    def test_built_binary(self):
        binary = os.path.join(support.TOP, "build", "guest", "bin", "pvmig-hostile")
        if not os.access(binary, os.X_OK):
            self.skipTest("pvmig-hostile not built (make hostile)")
        with open(binary, "rb") as f:
            if b"--list" not in f.read():
                self.skipTest("pvmig-hostile built before --list")
        names = P.hostile_attacks(binary)
        self.assertTrue(set(ATTACKS_BEFORE_LIST) <= set(names))


if __name__ == "__main__":
    unittest.main()
