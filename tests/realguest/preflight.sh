# Sourced by tests/e2e/80-real-guest.sh and 85-libvirt.sh: what both need
# before they build the package and the image.
#   realguest_preflight WHY TOOL...: SKIP (77) if not root (WHY says what
#   needs root), if a tool is missing or if the machine's apt configuration
#   has no Debian archive; fails if our QEMU is not built.  Sets top, qemu.
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
qemu=${PVMIG_QEMU:-$top/build/qemu/qemu-system-x86_64}

realguest_preflight() {
	local why=$1 t
	shift
	[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root ($why)"; exit 77; }
	for t in "$@" debootstrap dpkg-buildpackage dh_dkms python3 qemu-img; do
		command -v "$t" >/dev/null ||
			{ echo "SKIP: $t missing (tools/setup-host.sh installs it)"; exit 77; }
	done
	"$top/tools/apt-suite.sh" --mirror >/dev/null 2>&1 ||
		{ echo "SKIP: no Debian archive in this machine's apt configuration"; exit 77; }
	[ -x "$qemu" ] || { echo "FAILED: no QEMU at $qemu (make qemu)" >&2; exit 1; }
}
