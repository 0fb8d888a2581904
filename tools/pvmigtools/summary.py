"""A soak set's summary (bench/results/soak/<set>.json), the classification
of a run, and the combination of several sets (bench/results/soak.json)."""

import re

from .jqfmt import alt, counts, group_by, sum_by_key, sum_objects

# Every result a run can have (the per_run "result" field).
RESULTS = ("pass", "lost", "guest-check", "crash", "source-stopped", "timeout", "infra")

# The driver's failure_class (when it writes one) -> the soak's result.
# "none" is a pass only with exit code 0; migration_failed is split by the
# error text into source-stopped and infra, as before the driver had it.
FAILURE_CLASS = {
    "lost_pages": "lost",
    "guest_check": "guest-check",
    "qemu_crash": "crash",
    "timeout": "timeout",
    "setup": "infra",
}

_CRASH_IN_CHECK = re.compile(r"QEMU (exited|killed by signal|ended).*during the guest check")


def classify(rc, obj, log_text=""):
    """One run's result from the driver's exit code, its result object and
    its log: pass, lost, guest-check, crash, source-stopped, timeout, infra.
    A failure the driver's failure_class names wins (a failure is never
    hidden by an exit code of 0); "none" passes only with exit code 0; with
    no class, an unknown one, or "none" against a failing exit code, the
    exit code, pages_lost and the error text decide."""
    lost = alt(obj.get("pages_lost"), 0)
    err = alt(obj.get("error"), "") or ""
    fc = obj.get("failure_class")
    fc = fc if isinstance(fc, str) else None
    if fc == "none" and rc == 0:
        return "pass"
    if fc in FAILURE_CLASS:
        return FAILURE_CLASS[fc]
    if fc == "migration_failed":
        return "source-stopped" if "not running, after" in err else "infra"
    if rc == 0:
        return "pass"
    if lost != 0:
        return "lost"
    if "QEMU died" in err or any(_CRASH_IN_CHECK.search(l) for l in log_text.splitlines()):
        return "crash"
    if rc == 1:
        return "guest-check"
    if "not running, after" in err:
        return "source-stopped"
    if "timed out" in err or "within" in err:
        return "timeout"
    return "infra"


def run_entry(meta, obj):
    """What the soak chose for a run (meta) and what the driver reported
    (obj, None when it wrote nothing) as one per_run entry."""
    o = obj or {}
    pv = o.get("pvmig")
    pvd = pv if isinstance(pv, dict) else {}
    e = dict(meta)
    e.update({
        "status": alt(o.get("status"), "no-result"),
        "verified": alt(o.get("verified"), False),
    })
    for k in ("pages_lost", "pages_excused", "pages_hinted", "guest_check", "accel",
              "dirty_log", "free_reads_zero", "fresh_pages_checked",
              "fresh_pages_nonzero", "pages_zero_resend"):
        e[k] = alt(o.get(k), None)
    e["rearms"] = alt(pvd.get("rearms"), None)
    for k in ("total_ms", "transferred_bytes", "attempts", "hops_done"):
        e[k] = alt(o.get(k), None)
    e["faults_injected"] = alt(o.get("faults"), {})
    e["fault_events"] = alt(o.get("fault_events"), [])
    e["rejected"] = ({"invalid": pvd.get("rejected_invalid"),
                      "no_agent": pvd.get("rejected_no_agent"),
                      "stale": pvd.get("stale_messages"),
                      "messages": pvd.get("rejected_messages")}
                     if alt(pv, None) is not None else None)
    e["guest_fault_counters"] = alt(o.get("guest_faults"), {})
    for k in ("qemu_binary", "guest_initrd", "error", "workdir"):
        e[k] = alt(o.get(k), None)
    return e


def _sum(values):
    return sum(values) if values else 0


def _totals(per):
    """The counts both a set and a combination report."""
    return {
        "runs": len(per),
        "passed": sum(1 for r in per if r["result"] == "pass"),
        "failed": sum(1 for r in per if r["result"] != "pass"),
        "lost_pages": _sum([alt(r.get("pages_lost"), 0) for r in per]),
    }


def summarize(meta, driver_runs, info):
    """A set's summary: info (command, master_seed, started, finished,
    commit, qemu, hashes, runs_planned, stopped_early) in front, then the
    totals, then per_run.  meta: the soak's per-run choices and results in
    run order; driver_runs: the driver's result objects."""
    per = []
    for m in meta:
        obj = next((o for o in driver_runs if o.get("scenario") == m["scenario"]), None)
        per.append(run_entry(m, obj))
    t = _totals(per)
    s = dict(info)
    s.update(t)
    s.update({
        "init_on_free_runs": sum(1 for r in per if r.get("free_reads_zero") is True),
        "fresh_pages_checked": _sum([alt(r.get("fresh_pages_checked"), 0) for r in per]),
        "fresh_pages_nonzero": _sum([alt(r.get("fresh_pages_nonzero"), 0) for r in per]),
        "accel": {alt(g[0].get("accel"), "unknown"): len(g)
                  for g in group_by(per, lambda r: r.get("accel"))},
        "dirty_log": {alt(g[0].get("dirty_log"), "unknown"): len(g)
                      for g in group_by(per, lambda r: r.get("dirty_log"))},
        "crashes": sum(1 for r in per if r["result"] == "crash"),
        "results": counts([r["result"] for r in per]),
        "modes": counts([r["mode"] for r in per]),
    })
    fi = sum_by_key([r["faults_injected"] for r in per])
    fi["ping_pong_extra_hops"] = _sum([r["hops_done"] - 1 for r in per
                                       if alt(r.get("hops_done"), 0) > 1])
    gf = [f for r in per for f in r["guest_faults"]]
    s.update({
        "faults_injected": fi,
        "guest_fault_runs": counts([f.split(":", 1)[0] for f in gf]),
        "hostile_attacks": counts([f[len("hostile:"):] for f in gf if f.startswith("hostile:")]),
        "guest_fault_counters": sum_by_key([r["guest_fault_counters"] for r in per]),
        "faults_not_injected": counts([ev.get("kind") for r in per for ev in r["fault_events"]
                                       if not alt(ev.get("injected"), False)]),
        "per_run": per,
    })
    return s


def is_set(summary):
    """A soak set's summary: has a command and a per_run list."""
    return (isinstance(summary, dict) and isinstance(summary.get("per_run"), list)
            and alt(summary.get("command"), None) is not None)


def combine(sets):
    """Several sets' summaries as one report: totals over all runs, the
    sets as they were run, and every run tagged with its set (1-based)."""
    tagged = []
    for i, s in enumerate(sets, 1):
        summary = {k: v for k, v in s.items() if k != "per_run"}
        summary["set"] = i
        tagged.append((summary, [dict(r, set=i) for r in s["per_run"]]))
    per = [r for _, runs in tagged for r in runs]
    sums = [s for s, _ in tagged]
    out = {"sets": sums}
    out.update(_totals(per))
    out.update({
        "crashes": sum(1 for r in per if r["result"] == "crash"),
        "results": counts([r["result"] for r in per]),
        "modes": counts([r["mode"] for r in per]),
        # Sets from before the driver reported them ran under TCG.
        "accel": counts([alt(r.get("accel"), "tcg") for r in per]),
        "dirty_log": counts([alt(r.get("dirty_log"), "tcg") for r in per]),
        "init_on_free_runs": sum(1 for r in per if r.get("free_reads_zero") is True),
        "fresh_pages_checked": _sum([alt(r.get("fresh_pages_checked"), 0) for r in per]),
        "fresh_pages_nonzero": _sum([alt(r.get("fresh_pages_nonzero"), 0) for r in per]),
        "faults_injected": sum_objects([s.get("faults_injected") for s in sums]),
        "guest_fault_runs": sum_objects([s.get("guest_fault_runs") for s in sums]),
        "hostile_attacks": sum_objects([s.get("hostile_attacks") for s in sums]),
        "guest_fault_counters": sum_objects([alt(s.get("guest_fault_counters"), {}) for s in sums]),
        "faults_not_injected": sum_objects([s.get("faults_not_injected") for s in sums]),
        "per_run": per,
    })
    return out


def _kv(d):
    return " ".join(f"{k}={v}" for k, v in d.items())


def set_lines(s):
    """The lines run.sh prints at the end of a set."""
    lines = [
        f"soak: {s['runs']} runs, {s['passed']} passed, {s['failed']} failed; "
        f"lost pages {s['lost_pages']}; crashes {s['crashes']}",
        f"soak: init_on_free runs {s['init_on_free_runs']}: {s['fresh_pages_nonzero']} "
        f"of {s['fresh_pages_checked']} fresh pages non-zero",
        f"soak: accel {_kv(s['accel'])}, dirty log {_kv(s['dirty_log'])}",
        f"soak: driver faults injected: {_kv(s['faults_injected'])}",
        f"soak: runs with guest-side faults: {_kv(s['guest_fault_runs'])}",
    ]
    if s["guest_fault_counters"]:
        lines.append(f"soak: guest fault counters: {_kv(s['guest_fault_counters'])}")
    if s["faults_not_injected"]:
        lines.append("soak: faults planned but not injected (migration finished first): "
                     + _kv(s["faults_not_injected"]))
    return lines


def combine_line(c):
    return (f"combine: {len(c['sets'])} sets, {c['runs']} runs, {c['passed']} passed, "
            f"{c['failed']} failed; lost pages {c['lost_pages']}; crashes {c['crashes']}; "
            f"init_on_free runs {c['init_on_free_runs']}, fresh pages non-zero "
            f"{c['fresh_pages_nonzero']}")
