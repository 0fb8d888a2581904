#!/usr/bin/env bash
# The real guest (80-real-guest.sh's image) under libvirt: Debian's
# libvirtd, two private instances on this machine (tools/libvirt/instance.sh,
# each its own host UUID), the domain of tools/libvirt/pvmig-domain.xml.in
# with our QEMU as <emulator> (tests/realguest/libvirt.py):
#   1. the guest boots and its agent says HELLO to the device;
#   2. `virsh migrate --live` A -> B: hints in the device counters
#      (`virsh qemu-monitor-command`), the guest's checksummed data intact;
#   3. `virsh save` / `virsh restore` with the agent and without: file
#      sizes recorded, the data intact after each restore.
# SKIP (77) only where it cannot run: not root, no libvirtd, no debootstrap
# or no Debian archive for the image.
set -euo pipefail
. "$(dirname "$0")/../realguest/preflight.sh"
realguest_preflight "libvirtd, debootstrap" libvirtd virsh unshare

t0=$(date +%s)
deb=$("$top/guest/packaging/build-deb.sh" --no-lintian | tail -n 1)
img=$("$top/tests/realguest/mkimage.sh" "$deb")
mkdir -p "$top/build/check/json" "$top/build/run"
nice python3 "$top/tests/realguest/libvirt.py" --img "$img" --qemu "$qemu" \
	--json "$top/build/check/json/libvirt.json"
echo "total $(( $(date +%s) - t0 )) s"
