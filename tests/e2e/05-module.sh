#!/usr/bin/env bash
# pvmig.ko inside real TCG guests (1 and 2 GB, smp 2): coverage, safety
# against pages the test holds, lock-hold bound, lifecycle, bad input.
# GUEST_KERNEL=6.12 runs them in build/guest-6.12's image instead of
# build/guest's (6.1); 06-module-6.12.sh does that and builds the image.
exec "$(dirname "$0")/../../guest/module/tests/run.sh"
