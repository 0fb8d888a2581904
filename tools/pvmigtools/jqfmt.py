"""What the results looked like when jq wrote them: the committed JSON and
tables came from jq, and the same input must give the same bytes here."""

import json
import math


def alt(value, default):
    """jq's `value // default`: default when value is null or false."""
    return default if value is None or value is False else value


def jq_round(x):
    """jq's round (C round()): halves away from zero, not to even."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def num(x):
    """A number as jq prints it: integral values without a fraction."""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e17:
        return str(int(x))
    return repr(x) if isinstance(x, float) else str(x)


_TYPE_ORDER = {type(None): 0, bool: 1, int: 3, float: 3, str: 4, list: 5, dict: 6}


def order_key(v):
    """A sort key giving jq's order: null < false < true < numbers <
    strings < arrays < objects (what group_by sorts by)."""
    t = _TYPE_ORDER[type(v)]
    if isinstance(v, bool):
        return (t + (1 if v else 0), 0)
    if isinstance(v, list):
        return (t, [order_key(x) for x in v])
    if isinstance(v, dict):
        return (t, sorted(v), [order_key(v[k]) for k in sorted(v)])
    return (t, v)


def group_by(items, key):
    """jq's group_by: groups in sorted order of their key, items in input order."""
    groups = {}
    for it in items:
        k = key(it)
        groups.setdefault(json.dumps(k, sort_keys=True), (k, []))[1].append(it)
    return [g for _, g in sorted(groups.values(), key=lambda kg: order_key(kg[0]))]


def counts(values, name=lambda k: k):
    """`group_by(.) | map({key: .[0], value: length}) | from_entries`."""
    out = {}
    for g in group_by(values, lambda v: v):
        out[name(g[0])] = len(g)
    return out


def sum_by_key(objects):
    """Objects' values summed per key, keys in sorted order (jq's
    `map(to_entries[]) | group_by(.key) | ... add`)."""
    entries = [(k, v) for o in objects for k, v in o.items()]
    out = {}
    for g in group_by(entries, lambda e: e[0]):
        total = None
        for _, v in g:
            total = v if total is None else total + v
        out[g[0][0]] = total
    return out


def sum_objects(objects):
    """combine.sh's sum_objects: keys in order of first appearance."""
    out = {}
    for o in objects:
        for k, v in (o or {}).items():
            out[k] = v if out.get(k) is None else out[k] + v
    return out


def dumps(obj):
    """JSON as jq prints it (two-space indent, UTF-8 kept), with newline."""
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"
