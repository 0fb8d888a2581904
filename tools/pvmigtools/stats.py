"""The figures every table shares: one median, one "in use"."""


def median(values):
    """Median of numbers; None when there are none.  An even count gives
    the mean of the two middle values."""
    v = sorted(values)
    n = len(v)
    if n == 0:
        return None
    if n % 2:
        return v[n // 2]
    return (v[n // 2 - 1] + v[n // 2]) / 2


def _number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def in_use_kb(run):
    """The guest's memory in use at migration start, KiB: guest RAM minus
    what the guest had free (guest_free_kb).  MemTotal - MemFree would leave
    out what the kernel reserved at boot (struct pages, its own image),
    which is in use and must be sent too.  None if the run lacks either."""
    mb, free_kb = run.get("guest_mb"), run.get("guest_free_kb")
    if not _number(mb) or not _number(free_kb):
        return None
    return mb * 1024 - free_kb


def in_use_mib(run):
    kb = in_use_kb(run)
    return None if kb is None else kb / 1024


def production(run):
    """A production run: no test-only hint log, no RAM comparison
    (--no-verify).  Runs from before the hint_log field were verified."""
    return run.get("hint_log") is False


def verified(runs):
    """The runs that passed verification: the only ones in a median."""
    return [r for r in runs if r.get("verified") is True]


def completed(runs):
    """Production runs that completed without a failure: what a production
    median is taken over (they are not verified; their verified twins
    with the same settings are)."""
    return [r for r in runs if production(r) and r.get("status") == "completed"
            and r.get("failure_class", "none") == "none"]


def usable(runs):
    """The runs a median may use: verified runs, and completed production
    runs."""
    return [r for r in runs if r.get("verified") is True or r in completed([r])]


def spread(values):
    """(median, min, max) of numbers, or None when there are none."""
    v = sorted(values)
    if not v:
        return None
    return median(v), v[0], v[-1]
