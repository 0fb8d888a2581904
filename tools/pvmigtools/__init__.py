"""pvmig's result tools: the soak's seeded plan and its summaries, and the
statistics and tables of the benchmark results.

Stdlib only.  Run as `PYTHONPATH=tools python3 -m pvmigtools COMMAND`; the
shell scripts in tools/soak/ and tools/bench/ are thin callers of it.
"""
