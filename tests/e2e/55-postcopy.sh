#!/usr/bin/env bash
# With the postcopy-ram capability on, the device must refuse hints (a
# postcopy destination would wait for a skipped page forever).
exec python3 "$(dirname "$0")/../../qemu/tests/postcopy-refusal.py"
