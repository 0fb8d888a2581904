"""Puts tools/ on sys.path (the tests run with -s tools/pvmigtools/tests)
and names the repository's committed results the tests check against."""

import os
import sys

TOOLS = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOP = os.path.dirname(TOOLS)
RESULTS = os.path.join(TOP, "bench", "results")
if TOOLS not in sys.path:
    sys.path.insert(0, TOOLS)


def load(path):
    import json
    with open(path) as f:
        return json.load(f)
