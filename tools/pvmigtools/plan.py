"""The seeded plan of one soak run: everything the run does (guest size,
workload, timing, limits, mode, faults) drawn from its own seed alone, so
`SEED=<run seed> N=1` replays it."""

import dataclasses
import subprocess

from .rng import Rng, hash31


@dataclasses.dataclass
class Config:
    """The soak's knobs (tools/soak/README.md)."""
    accel: str = "tcg"          # tcg | kvm
    guest: str = "linux"        # linux | sweeper
    mem_min: int = 512
    mem_max: int = 2048
    faults: str = "random"      # random | always
    iof_pct: int = 25
    ring_pct: int = 40
    attacks: tuple = ()         # pvmig-hostile --list (Linux guests only)


@dataclasses.dataclass
class Plan:
    seed: int
    mode: str
    mem: int
    smp: int
    append: str
    workload: str
    delay: str                  # --start-delay as passed ("0.5")
    bw: int
    downtime: int
    guest_faults: list
    fault_args: list

    def driver_args(self):
        return ["--mode", self.mode, "--mem", str(self.mem), "--smp", str(self.smp),
                "--append", self.append, "--bandwidth", str(self.bw),
                "--downtime", str(self.downtime), "--start-delay", self.delay]


def hostile_attacks(binary):
    """The attacks pvmig-hostile knows, from `pvmig-hostile --list`."""
    try:
        out = subprocess.run([binary, "--list"], capture_output=True, text=True,
                             check=True, timeout=30).stdout
    except FileNotFoundError:
        raise ValueError(f"{binary} missing: run 'make hostile'") from None
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, PermissionError) as e:
        raise ValueError(f"{binary} --list failed: {e}") from None
    names = [line.strip() for line in out.splitlines() if line.strip()]
    if not names or any(" " in n or n == "all" for n in names):
        raise ValueError(f"{binary} --list: unexpected output {out!r}")
    return tuple(names)


def plan(seed, cfg):
    if cfg.guest == "sweeper":
        return _plan_sweeper(seed, cfg)
    return _plan_linux(seed, cfg)


def _plan_sweeper(seed, cfg):
    """The bare-metal guest writes region R in 1-5 epochs right after the
    sync (--x-sweeper-hints) and pvmig hints R then, under KVM's dirty
    bitmap (re-armed by the device) or its dirty ring."""
    r = Rng(hash31(f"plan-{seed}"))
    mode = r.pick("pvmig", "pvmig", "pvmig", "none")
    mem = r.rnd(cfg.mem_min // 64, cfg.mem_max // 64) * 64
    fault_args = ["--guest", "sweeper", "--accel", cfg.accel]
    workload = "sweeper"
    if cfg.accel == "kvm" and r.chance(cfg.ring_pct):
        # 65536: a 4096-entry ring stalls this nested guest in migration,
        # and so did 65536 above 128 MiB (region R not written in a
        # minute, bench/results/soak/); 128 MiB ran in every e2e and
        # bench run.
        fault_args += ["--dirty-ring", "65536"]
        workload += " ring"
        mem = min(mem, 128)
    else:
        workload += " manual" if cfg.accel == "kvm" else " tcg"
    rounds = r.rnd(1, 5)
    fault_args += ["--x-sweeper-hints", str(rounds)]
    workload += f" rounds={rounds}"
    delay = r.pick("0", "0", "0.5", "1", "2")
    bw = int(r.pick("64", "128", "256", "512", "1024"))
    downtime = 1  # the driver lifts it once the rounds are done
    if r.chance(20):
        fault_args += ["--x-cancel-after", str(r.rnd(100, 3000))]
    if r.chance(10):
        fault_args += ["--x-kill-dst-after", str(r.rnd(100, 3000))]
    if r.chance(15):
        fault_args += ["--hops", "2"]
    return Plan(seed, mode, mem, 1, "", workload, delay, bw, downtime, [], fault_args)


def _plan_linux(seed, cfg):
    r = Rng(hash31(f"plan-{seed}"))
    mode = r.pick(*["pvmig"] * 8, "none", "balloon")
    mem = max(r.rnd(cfg.mem_min // 128, cfg.mem_max // 128) * 128, cfg.mem_min)
    smp = 2 if r.chance(10) else 1
    avail = mem - 128
    frag = churn = pc = wk = 0
    hold = r.rnd(16, 96)
    if r.chance(30):
        frag = r.rnd(32, avail // 6)
    fill = r.rnd(0, avail * 6 // 10 - hold - frag)
    if r.chance(50):
        churn = r.rnd(16, avail // 6)
    if r.chance(30):
        pc = r.rnd(16, avail // 10)
    if r.chance(60):
        wk = int(r.pick("256", "1024", "4096", "8192"))
    append = [f"pvmig.seed={seed}", f"pvmig.hold_mb={hold}", f"pvmig.fill_mb={fill}"]
    workload = [f"hold={hold}", f"fill={fill}"]
    for value, param, word in ((frag, "frag_mb", f"frag={frag}"),
                               (churn, "churn_mb", f"churn={churn}"),
                               (wk, "write_kbps", f"write={wk}k"),
                               (pc, "pagecache_mb", f"pagecache={pc}")):
        if value > 0:
            append.append(f"pvmig.{param}={value}")
            workload.append(word)
    if r.chance(20):
        append.append("pvmig.forkstorm=1")
        workload.append("forkstorm")
    # Free pages that must read as zero; the driver then has the
    # destination check its fresh pages.
    if r.chance(cfg.iof_pct):
        append.append("init_on_free=1")
        workload.append("init_on_free")

    delay = r.pick("0", "0", "0.5", "1", "2", "3", "5", "8")
    bw = int(r.pick("64", "128", "256", "512", "1024", "4096"))
    downtime = int(r.pick("50", "100", "300", "300", "1000"))
    # A limit pair that cannot converge under a writing workload proves
    # nothing and ends in a timeout: let the final stop-and-copy move at
    # least 32 MiB within the downtime limit.
    if bw * downtime < 32000:
        downtime = (32000 + bw - 1) // bw

    # Guest-side faults only where the agent runs (mode pvmig).  "all"
    # (every attack in turn) is drawn twice as often as any one attack.
    guest_faults, fault_args = [], []
    if mode == "pvmig":
        if r.chance(12):
            if not cfg.attacks:
                raise ValueError("no hostile attacks known (pvmig-hostile --list)")
            attack = r.pick("all", "all", *cfg.attacks)
            append += ["pvmig.agent=0", f"pvmig.hostile={attack}"]
            guest_faults.append(f"hostile:{attack}")
        else:
            if r.chance(20):
                append.append("pvmig.agent_chaos=1")
                guest_faults.append("agent_kill")
            if r.chance(20):
                append.append("pvmig.agent_stop=1")
                guest_faults.append("agent_stop")
            if r.chance(20):
                append.append("pvmig.rmmod_chaos=1")
                guest_faults.append("rmmod")
    if cfg.accel == "kvm":
        fault_args += ["--accel", "kvm"]
    driver_faults = []
    if r.chance(20):
        driver_faults += ["--x-cancel-after", str(r.rnd(100, 3000))]
    if r.chance(20):
        driver_faults += ["--x-kill-dst-after", str(r.rnd(100, 3000))]
    if r.chance(12):
        driver_faults += ["--x-reset-after", str(r.rnd(100, 3000))]
    if r.chance(15):
        driver_faults += ["--hops", str(r.rnd(2, 3))]
    # FAULTS=always: at least one driver-side fault.
    if cfg.faults == "always" and not driver_faults:
        kind = r.pick("cancel", "kill", "reset", "hops")
        if kind == "hops":
            driver_faults += ["--hops", "2"]
        else:
            flag = {"cancel": "--x-cancel-after", "kill": "--x-kill-dst-after",
                    "reset": "--x-reset-after"}[kind]
            driver_faults += [flag, str(r.rnd(100, 3000))]
    return Plan(seed, mode, mem, smp, " ".join(append), " ".join(workload), delay,
                bw, downtime, guest_faults, fault_args + driver_faults)
