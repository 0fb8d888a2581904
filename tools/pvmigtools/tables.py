"""The benchmark tables: pvmig-report's text table (latest.txt), the
README's headline table (latest.md), the KVM tables (kvm.md) and the
medians plot.sh draws.  Every median is stats.median over verified runs,
every in-use figure stats.in_use_kb."""

from .jqfmt import group_by, jq_round, num
from .stats import completed, in_use_kb, in_use_mib, median, production, spread, usable, verified


def _number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _values(runs, f):
    out = []
    for r in runs:
        try:
            v = f(r)
        except (KeyError, TypeError, ZeroDivisionError, AttributeError):
            v = None
        if _number(v):
            out.append(v)
    return out


# ------------------------------------------------------------ latest.txt
def report(runs):
    """The side-by-side table of migration runs: per scenario, guest size
    and mode (in order of first appearance), median [min-max] of each
    figure over the runs that passed verification.  Returns (text, number
    of runs that failed verification); runs without scenario or mode are
    skipped and listed in the third element."""
    groups, order, skipped, failed = {}, [], [], 0
    for i, r in enumerate(runs):
        sc, mode = r.get("scenario"), r.get("mode")
        if not isinstance(sc, str) or not isinstance(mode, str):
            skipped.append(i)
            continue
        if production(r):
            mode += "*"
        mb = r.get("guest_mb")
        key = (sc, mode, mb if isinstance(mb, int) and not isinstance(mb, bool) else 0)
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(r)
        if not usable([r]):
            failed += 1
    lines = ["%-12s %6s %-8s %6s %18s %18s %18s %18s %18s %18s %8s" % (
        "scenario", "MiB", "mode", "ok/n", "total ms", "sent MiB", "setup ms",
        "downtime ms", "cleared MiB", "in-use MiB", "lost")]
    for key in order:
        g = groups[key]
        ok = usable(g)
        row = "%-12s %6d %-8s %6s" % (key[0], key[2], key[1], f"{len(ok)}/{len(g)}")

        def cell(f, scale, with_spread):
            s = spread(_values(ok, f))
            if s is None:
                return " %18s" % "-"
            med, lo, hi = s
            if with_spread and len(ok) > 1:
                return " %18s" % ("%.0f [%.0f-%.0f]" % (med / scale, lo / scale, hi / scale))
            return " %18.0f" % (med / scale)

        row += cell(lambda r: r.get("total_ms"), 1, True)
        row += cell(lambda r: r.get("transferred_bytes"), 1 << 20, True)
        row += cell(lambda r: r.get("setup_ms"), 1, False)
        row += cell(lambda r: r.get("downtime_ms"), 1, False)
        row += cell(lambda r: r.get("pages_cleared"), 256, False)
        row += cell(in_use_kb, 1024, False)
        # Lost pages over every run, verified or not.
        lost = sum(r["pages_lost"] for r in g if _number(r.get("pages_lost")))
        row += " %8.0f" % lost
        lines.append(row)
    if any(production(r) for r in runs):
        lines.append("mode*: production runs (no hint log, not verified: "
                     "their twins without * are)")
    if failed:
        lines.append(f"{failed} run(s) failed verification and are not in the medians")
    return "\n".join(lines) + "\n", failed, skipped


# ------------------------------------------------------------- latest.md
SCENARIOS = ("idle", "freed-dirty", "fragmented", "active")
MODES = ("none", "balloon", "reporting", "pvmig")


def _tenths(x):
    s = num(jq_round(x * 10) / 10)
    return s if "." in s else s + ".0"


def markdown(runs):
    """The README's headline table: per scenario and guest size, the
    median total time and bytes sent of each mode over its verified runs
    ("k of n verified" when some failed), and the guest's median in-use
    memory at migration start over all its runs (the physical limit for
    bytes)."""
    def figures(ok):
        t = median(_values(ok, lambda r: r["total_ms"]))
        mib = median(_values(ok, lambda r: r["transferred_bytes"] / 1048576))
        return f"{_tenths(t / 1000)} s, {jq_round(mib)} MiB"

    def verified_cell(rs):
        ok = verified(rs)
        if not ok:
            return f"0 of {len(rs)} verified"
        out = figures(ok)
        if len(ok) < len(rs):
            out += f" ({len(ok)} of {len(rs)} verified)"
        return out

    def cell(rs):
        """Production figures first where there are production runs, then
        the verified runs' time."""
        prod = [r for r in rs if production(r)]
        ver = [r for r in rs if not production(r)]
        if not prod:
            return verified_cell(ver)
        ok = completed(prod)
        out = figures(ok) if ok else f"0 of {len(prod)} completed"
        vok = verified(ver)
        if vok:
            t = median(_values(vok, lambda r: r["total_ms"]))
            out += f"; verified {_tenths(t / 1000)} s"
        if len(vok) < len(ver) or not ver:
            out += f" ({len(vok)} of {len(ver)} verified)"
        return out

    modes = [m for m in MODES if m != "reporting" or
             any(r.get("mode") == m for r in runs)]
    lines = ["| scenario | GB | " + " | ".join(modes) + " | in use |",
             "|---|---|" + "---|" * len(modes) + "---|"]
    for sc in SCENARIOS:
        for g in group_by([r for r in runs if r.get("scenario") == sc],
                          lambda r: r.get("guest_mb")):
            cells = []
            for m in modes:
                rs = [r for r in g if r.get("mode") == m]
                cells.append(cell(rs) if rs else "-")
            use = median(_values(g, in_use_mib))
            lines.append(f"| {sc} | {num(g[0]['guest_mb'] / 1024)} | " + " | ".join(cells)
                         + f" | {'-' if use is None else jq_round(use)} MiB |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- kvm.md
def kvm_tables(runs):
    """The README's KVM tables (tools/bench/kvm.sh's results): medians over
    verified runs of each dirty-log mode and mode, and the re-arm's cost
    per sync against guest size."""
    def show(rs, f, unit):
        v = median(_values(verified(rs), f))
        return "-" if v is None else f"{jq_round(v)}{unit}"

    def count(rs):
        return f"{len(verified(rs))} of {len(rs)}"

    def pv(r, k):
        return r["pvmig"][k]

    lines = ["| dirty log | mode | verified | total time | sent | pages lost |",
             "|---|---|---|---:|---:|---:|"]
    for g in group_by([r for r in runs if r.get("scenario") == "modes"],
                      lambda r: [r.get("dirty_log"), r.get("mode")]):
        lost = sum(r["pages_lost"] for r in g if _number(r.get("pages_lost")))
        lines.append(f"| {g[0].get('dirty_log')} | {g[0].get('mode')} | {count(g)} | "
                     f"{show(g, lambda r: r['total_ms'], ' ms')} | "
                     f"{show(g, lambda r: r['transferred_bytes'] / 1048576, ' MiB')} | "
                     f"{num(lost)} |")
    lines += ["", "| guest | verified | re-arms | re-arm (median per run) | longest re-arm "
              "| chunks per re-arm |", "|---:|---|---:|---:|---:|---:|"]
    for g in group_by([r for r in runs if r.get("scenario") == "rearm-cost"],
                      lambda r: r.get("guest_mb")):
        lines.append(f"| {num(g[0].get('guest_mb'))} MiB | {count(g)} | "
                     f"{show(g, lambda r: pv(r, 'rearms'), '')} | "
                     f"{show(g, lambda r: pv(r, 'rearm_us') / pv(r, 'rearms'), ' us')} | "
                     f"{show(g, lambda r: pv(r, 'rearm_max_us'), ' us')} | "
                     f"{show(g, lambda r: pv(r, 'rearm_chunks') / pv(r, 'rearms'), '')} |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------- plot.sh
def plot_rows(runs):
    """scenario, guest_mb, mode, median total ms, median MiB sent, median
    in-use MiB over the verified runs of each group, as TSV lines."""
    out = []
    for g in group_by(verified(runs),
                      lambda r: [r.get("scenario"), r.get("guest_mb"), r.get("mode")]):
        vals = [median(_values(g, lambda r: r["total_ms"])),
                median(_values(g, lambda r: r["transferred_bytes"] / 1048576)),
                median(_values(g, in_use_mib))]
        out.append("\t".join([str(g[0]["scenario"]), num(g[0]["guest_mb"]), str(g[0]["mode"])]
                             + ["" if v is None else num(v) for v in vals]))
    return "".join(line + "\n" for line in out)


# ------------------------------------------------------------ latency.md
def latency_table(runs):
    """Hint latency (tools/bench/latency.sh): per scenario and guest size,
    medians over completed runs of the first epoch's REQUEST-to-last-batch
    time, the guest's walk and the agent's whole answer (REQUEST to END),
    the setup wait, and the test-only hint log's own time in verified
    runs.  Production runs lead (that is what users get)."""
    def med(rs, f, scale=1):
        v = median(_values(rs, f))
        return "-" if v is None else num(jq_round(v / scale))

    def pv(k):
        return lambda r: r["pvmig"][k]

    lines = ["| scenario | GB | runs | hint latency | walk | agent | setup wait "
             "| verified: hint latency | hint log's own time |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    pv_runs = [r for r in runs if r.get("mode") == "pvmig"]
    for sc in sorted({r.get("scenario") for r in pv_runs if isinstance(r.get("scenario"), str)}):
        for g in group_by([r for r in pv_runs if r.get("scenario") == sc],
                          lambda r: r.get("guest_mb")):
            prod = completed(g)
            ver = verified([r for r in g if not production(r)])
            lines.append(
                f"| {sc} | {num(g[0]['guest_mb'] / 1024)} | {len(prod)}+{len(ver)} | "
                f"{med(prod, lambda r: r['hint_latency_ms'])} ms | "
                f"{med(prod, pv('walk_us'), 1000)} ms | "
                f"{med(prod, pv('agent_us'), 1000)} ms | "
                f"{med(prod, lambda r: r['setup_wait_ms'])} ms | "
                f"{med(ver, lambda r: r['hint_latency_ms'])} ms | "
                f"{med(ver, pv('hint_log_us'), 1000)} ms |")
    return "\n".join(lines) + "\n"
