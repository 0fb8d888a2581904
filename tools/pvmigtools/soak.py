"""tools/soak/run.sh: N randomized migrations, each verified by
pvmig-migrate, planned by plan.py and summarised by summary.py.  The knobs
come from the environment (tools/soak/README.md)."""

import datetime
import hashlib
import json
import os
import re
import subprocess
import sys
import time

from . import plan as planmod
from .jqfmt import alt, dumps
from .rng import next_seed
from .summary import classify, set_lines, summarize


class BadInput(Exception):
    pass


def _int(env, name, default, lo=None, hi=None):
    raw = env.get(name, "")
    if raw == "":
        return default
    if not re.fullmatch(r"[0-9]+", raw):
        raise BadInput(f"{name} must be a non-negative integer, not {raw!r}")
    v = int(raw)
    if lo is not None and v < lo:
        raise BadInput(f"{name} must be at least {lo}, not {v}")
    if hi is not None and v > hi:
        raise BadInput(f"{name} must be at most {hi}, not {v}")
    return v


def config_from_env(env):
    """(Config, settings) from the environment; BadInput on a bad knob."""
    accel = env.get("ACCEL") or "tcg"
    guest = env.get("GUEST") or "linux"
    faults = env.get("FAULTS") or "random"
    if accel not in ("tcg", "kvm"):
        raise BadInput("ACCEL must be tcg or kvm")
    if guest not in ("linux", "sweeper"):
        raise BadInput("GUEST must be linux or sweeper")
    if faults not in ("random", "always"):
        raise BadInput("FAULTS must be random or always")
    lo, hi = (64, 512) if guest == "sweeper" else (512, 2048)
    mem_min = _int(env, "MEM_MIN", lo, 1)
    mem_max = _int(env, "MEM_MAX", hi, 1)
    if mem_min > mem_max:
        raise BadInput(f"MEM_MIN {mem_min} is above MEM_MAX {mem_max}")
    cfg = planmod.Config(accel=accel, guest=guest, mem_min=mem_min, mem_max=mem_max,
                         faults=faults, iof_pct=_int(env, "IOF_PCT", 25, 0, 100),
                         ring_pct=_int(env, "RING_PCT", 40, 0, 100))
    n = _int(env, "N", 20, 1)
    seed = _int(env, "SEED", time.time_ns() % 2147483647) % 2147483648
    stop_at = _int(env, "STOP_AT", None) if env.get("STOP_AT") else None
    return cfg, {"n": n, "seed": seed, "stop_at": stop_at,
                 "keep_going": env.get("KEEP_GOING", "1") != "0",
                 "dry_run": env.get("DRY_RUN", "0") == "1",
                 "qemu": env.get("QEMU") or ""}


def bash_quote(word):
    """bash's printf %q, for the driver_command field (a shell command)."""
    if word == "":
        return "''"
    special = set(" \t\n!\"$&'()*,;<>?[\\]^`{|}")
    out = []
    for i, c in enumerate(word):
        if c in special or (i == 0 and c in "#~"):
            out.append("\\")
        out.append(c)
    return "".join(out)


def _sha16(path):
    try:
        with open(os.path.realpath(path), "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()[:16]
    except OSError:
        return ""


def _commit(top):
    """HEAD's short hash, +dirty with local changes; unknown outside git."""
    try:
        rev = subprocess.run(["git", "-C", top, "rev-parse", "--short=12", "HEAD"],
                             capture_output=True, text=True)
        if rev.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "-C", top, "diff", "--quiet", "HEAD"],
                               capture_output=True).returncode != 0
    except OSError:
        return "unknown"
    return rev.stdout.strip() + ("+dirty" if dirty else "")


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


ROW = "%-4s %-10s %-7s %5s %-44s %-30s %-12s %5s %7s"


def _write(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(dumps(obj))
    os.replace(tmp, path)


def main(top, env=os.environ):
    try:
        cfg, st = config_from_env(env)
    except BadInput as e:
        print(f"soak: {e}", file=sys.stderr)
        return 2
    driver = os.path.join(top, "build/tools/pvmig-migrate")
    hostile = env.get("HOSTILE") or os.path.join(top, "build/guest/bin/pvmig-hostile")
    n, seed0, qemu = st["n"], st["seed"], st["qemu"]
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    # Each set keeps its own file; `make soak` then combines all of them
    # into bench/results/soak.json (combine.sh).
    out = env.get("OUT") or os.path.join(top, f"bench/results/soak/{stamp}-seed{seed0}.json")
    if not st["dry_run"] and not os.access(driver, os.X_OK):
        print(f"soak: {driver} missing: run 'make tools'", file=sys.stderr)
        return 2
    if cfg.guest == "linux":
        try:
            cfg.attacks = planmod.hostile_attacks(hostile)
        except ValueError as e:
            print(f"soak: {e}", file=sys.stderr)
            return 2

    # Every run's plan first: a knob no plan can satisfy (a guest too small
    # for its workload) fails here, before anything ran.
    plans, seed = [], seed0
    for i in range(1, n + 1):
        if i > 1:
            seed = next_seed(seed)
        try:
            plans.append(planmod.plan(seed, cfg))
        except ValueError as e:
            print(f"soak: run {i} (seed {seed}): {e}", file=sys.stderr)
            return 2
    command_line = ((f"QEMU={qemu} " if qemu else "") +
                    (f"HOSTILE={env['HOSTILE']} " if env.get("HOSTILE") else "") +
                    f"N={n} SEED={seed0} MEM_MIN={cfg.mem_min} MEM_MAX={cfg.mem_max} "
                    f"FAULTS={cfg.faults} ACCEL={cfg.accel} GUEST={cfg.guest} "
                    f"IOF_PCT={cfg.iof_pct} RING_PCT={cfg.ring_pct} tools/soak/run.sh")
    work = os.path.join(top, f"build/soak/{stamp}-{seed0}")
    runs_json = os.path.join(work, "runs.json")  # the driver's result objects
    if not st["dry_run"]:
        os.makedirs(work, exist_ok=True)
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    default_qemu = os.path.join(top, "build/qemu/qemu-system-x86_64")
    # What ran: the commit, and hashes of the QEMU binary and the guest
    # image (the driver also records each run's resolved paths).
    commit = _commit(top)
    info = {
        "command": command_line, "master_seed": seed0, "started": _now(), "finished": "",
        "commit": commit, "qemu": qemu or os.path.realpath(default_qemu),
        "qemu_sha256": _sha16(qemu or default_qemu),
        "guest_kernel_sha256": _sha16(os.path.join(top, "build/guest/vmlinuz")),
        "guest_initrd_sha256": _sha16(os.path.join(top, "build/guest/initramfs.cpio.gz")),
        "runs_planned": n, "stopped_early": False,
    }

    print(f"soak: master seed {seed0}, {n} runs, results {out} (work files {work})")
    print(f"soak: command: {command_line}")
    print(ROW % ("run", "seed", "mode", "MiB", "workload", "faults", "result", "lost", "time_s"),
          flush=True)
    meta, fail = [], 0

    def driver_runs():
        try:
            with open(runs_json) as f:
                data = json.load(f)
            return data if isinstance(data, list) else []
        except (OSError, ValueError):
            return []

    try:
        for i in range(1, n + 1):
            if st["stop_at"] is not None and time.time() >= st["stop_at"]:
                print(f"soak: STOP_AT reached, {i - 1} of {n} runs done")
                info["stopped_early"] = True
                break
            p = plans[i - 1]
            seed = p.seed
            scenario = f"soak-{seed0}-{i}"
            args = p.driver_args() + ["--timeout", "300", "--check-timeout", "180",
                                      "--scenario", scenario, "--quiet", "--json", runs_json]
            args += p.fault_args
            if qemu:
                args += ["--qemu", qemu]
            faults = " ".join(p.guest_faults + p.fault_args)
            if st["dry_run"]:
                print("%-4s %-10s %-7s %5s %-44s %s" % (
                    i, seed, p.mode, p.mem, p.workload[:44],
                    f"{faults} bw={p.bw} dt={p.downtime} delay={p.delay}"), flush=True)
                continue
            log = os.path.join(work, f"run-{i}.log")
            t0 = time.monotonic()
            with open(log, "wb") as lf:
                rc = subprocess.run([driver] + args, stdout=lf, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL).returncode
            if rc < 0:
                rc = 128 - rc  # killed by a signal, as bash's $? says it
            secs = int(time.monotonic() - t0)
            obj = next((o for o in driver_runs() if isinstance(o, dict)
                        and o.get("scenario") == scenario), {})
            with open(log, errors="replace") as lf:
                result = classify(rc, obj, lf.read())
            lost = alt(obj.get("pages_lost"), "-")
            replay = f"SEED={seed} N=1 tools/soak/run.sh"
            meta.append({
                "run": i, "seed": seed, "scenario": scenario, "mode": p.mode,
                "guest_mb": p.mem, "smp": p.smp, "workload": p.workload, "append": p.append,
                "bandwidth_mibs": p.bw, "downtime_limit_ms": p.downtime,
                "start_delay_s": float(p.delay) if "." in p.delay else int(p.delay),
                "driver_faults": " ".join(p.fault_args), "guest_faults": p.guest_faults,
                "exit_code": rc, "result": result, "wall_s": secs, "replay": replay,
                "driver_command": " ".join(bash_quote(w) for w in [driver] + args),
            })
            print(ROW % (i, seed, p.mode, p.mem, p.workload[:44], faults[:30], result,
                         lost, secs), flush=True)
            _write(out, summarize(meta, driver_runs(), info))
            if result != "pass":
                fail = 1
                why = alt(obj.get("error"), None) or alt(obj.get("guest_failure"), None) or "see log"
                print(f"  FAILED run {i}: {why}")
                print(f"  log: {log}")
                print(f"  replay: {replay}", flush=True)
                if not st["keep_going"]:
                    break
    except KeyboardInterrupt:
        # The driver got the same SIGINT; keep what ran.
        print(f"soak: interrupted, {len(meta)} of {n} runs done")
        info["stopped_early"] = True
        fail = 130
    if st["dry_run"]:
        return 0
    info["finished"] = _now()
    s = summarize(meta, driver_runs(), info)
    _write(out, s)
    for line in set_lines(s):
        print(line)
    print(f"soak: results in {out}")
    return fail
