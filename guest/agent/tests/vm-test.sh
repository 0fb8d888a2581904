#!/usr/bin/env bash
# pvmig-agent + pvmig.ko in a real TCG guest over a real virtio-serial port,
# with Debian's unpatched QEMU: the port's chardev is a Unix socket that
# hostsim (the host device's stand-in) drives.  Needs the guest kernel,
# busybox-static and build/guest/modules/pvmig.ko (make module).
#   vm-test.sh BUILD_ROOT [MEM_MB] [FILL_MB] [EPOCHS]
# VM_APPEND adds guest kernel parameters (e.g. pvmig.frag_mb=512).
set -euo pipefail

build=${1:?usage: vm-test.sh BUILD_ROOT [MEM_MB] [FILL_MB] [EPOCHS]}
mem=${2:-2048} fill=${3:-1024} epochs=${4:-5}
top=$(cd "$(dirname "$0")/../../.." && pwd)
out=$build/agent/vm
qemu=$(command -v qemu-system-x86_64)

[ -e "$build/guest/modules/pvmig.ko" ] || { echo "vm-test: no pvmig.ko (make module)" >&2; exit 3; }
rm -rf "$out" && mkdir -p "$out/img/bin" "$out/img/modules"
cp "$build/agent/pvmig-agent" "$out/img/bin/"
cp "$build/guest/modules/pvmig.ko" "$out/img/modules/"
[ -x "$build/guest/bin/pvmig-workload" ] && cp "$build/guest/bin/pvmig-workload" "$out/img/bin/"
"$top/guest/image/mkinitramfs.sh" "$out/img" >/dev/null
kernel=$out/img/vmlinuz
[ -r "$kernel" ] || kernel=$(ls /boot/vmlinuz-*-amd64 | sort -V | tail -n 1)
initrd=$out/img/initramfs.cpio.gz

sock=$out/port.sock
# pc machine, <= 3 GiB: guest RAM is one span from 0.
limit=$((mem * 256))
"$qemu" -accel tcg -machine pc -m "$mem" -nic none -display none -no-reboot \
	-L /usr/share/qemu -L /usr/share/seabios -kernel "$kernel" -initrd "$initrd" \
	-append "console=ttyS0 quiet panic=-1 pvmig.module=1 pvmig.agent=1 pvmig.fill_mb=$fill ${VM_APPEND:-}" \
	-serial "file:$out/console.log" -monitor none \
	-device virtio-serial-pci,id=vser0 \
	-chardev "socket,id=pv0,path=$sock,server=on,wait=off" \
	-device virtserialport,bus=vser0.0,chardev=pv0,name=org.pvmig.0 &
qpid=$!
trap 'kill $qpid 2>/dev/null; wait $qpid 2>/dev/null' EXIT

# Start once the workload has set up (freed-dirty memory), as a migration would.
for _ in $(seq 600); do
	grep -q PVMIG-READY "$out/console.log" 2>/dev/null && break
	sleep 0.5
done
grep PVMIG-READY "$out/console.log" || { echo "vm-test: guest not ready" >&2; tail -20 "$out/console.log"; exit 1; }
rc=0
"$build/agent/hostsim" "$sock" "$limit" "$epochs" 200 || rc=$?
echo "--- guest console (agent lines)"
grep -a "pvmig" "$out/console.log" | tail -n 30
exit $rc
