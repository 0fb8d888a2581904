# Shared by the end-to-end tests: run the migration driver (which verifies
# the migration itself) and read fields of its JSON result.
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
driver=$top/build/tools/pvmig-migrate
out=$top/build/check/json
mkdir -p "$out"

# migrate NAME [driver args...]: one migration, result in $out/NAME.json
migrate() {
	local name=$1
	shift
	rm -f "$out/$name.json"
	"$driver" --scenario "$name" --json "$out/$name.json" "$@"
}

# migrate_phase NAME [driver args...]: migrate() for a run with a test
# phase (--x-stale-free), tried up to 3 times while the migration converged
# before the phase ended: the driver says so, and such a run proves
# nothing either way.  Returns the driver's exit status.
migrate_phase() {
	local name=$1 try rc=0
	for try in 1 2 3; do
		rc=0
		migrate "$@" || rc=$?
		if [ "$rc" = 3 ] && field "$name" error | grep -q 'before the test phase ended'; then
			echo "$name: the migration converged before the test phase ended (try $try of 3)"
			continue
		fi
		return "$rc"
	done
	return "$rc"
}

# field NAME KEY [INDEX]: a value from that test's JSON array (default: last run)
field() {
	jq -r ".[${3:--1}].$2" "$out/$1.json"
}

# expect_val LABEL GOT OP WANT: one assertion (OP: = != -eq -ne -gt -ge -lt
# -le), printing what was expected and what was got; a failure ends the
# test.  A value that is missing or not a number where one is needed is a
# failure that says so, not a shell arithmetic error.
expect_val() {
	local label=$1 got=$2 op=$3 want=$4 ok=false
	case $op in
	=|!=) [ "$got" "$op" "$want" ] && ok=true ;;
	-eq|-ne|-gt|-ge|-lt|-le)
		if [[ $got =~ ^-?[0-9]+$ ]]; then
			[ "$got" "$op" "$want" ] && ok=true
		fi ;;
	*) echo "expect_val: unknown operator $op" >&2; exit 2 ;;
	esac
	if $ok; then
		echo "ok: $label $op $want (got $got)"
	else
		echo "FAILED: $label: expected $op $want, got ${got:-<empty>}" >&2
		exit 1
	fi
}

# expect NAME KEY OP WANT: expect_val on field KEY of test NAME's last run.
expect() {
	local got
	got=$(jq -r ".[-1].$2 | if . == null then \"<missing>\" else tostring end" \
		"$out/$1.json" 2>/dev/null) || got="<no result in $out/$1.json>"
	expect_val "$1 $2" "$got" "$3" "$4"
}

# kvm_unusable: prints why KVM cannot run a guest here and succeeds, or
# fails silently if it can (the driver's own check, then a 2 s boot).
kvm_unusable() {
	local qemu=${PVMIG_QEMU:-$top/build/qemu/qemu-system-x86_64} out rc=0
	if [ ! -e /dev/kvm ]; then
		echo "no /dev/kvm on this machine"
		return 0
	fi
	out=$(echo '{"execute":"qmp_capabilities"}{"execute":"quit"}' |
		timeout 20 "$qemu" -accel kvm -machine none -display none \
		-nodefaults -qmp stdio 2>&1 >/dev/null) || rc=$?
	if [ "$rc" != 0 ]; then
		echo "QEMU cannot use /dev/kvm: ${out:-exit status $rc}"
		return 0
	fi
	return 1
}

# The bare-metal sweeper guest (guest/sweeper/) as the KVM tests migrate
# it: three epochs in which it writes its region R (the upper 64 MiB, 16384
# pages) right after the sync and the driver then hints R.  A hint clears
# only what is still dirty when it lands, and on a loaded host the
# migration thread can reach R and send part of it first (648 of 49152
# pages in one CI run): two whole R's cleared show that the hints took
# effect while the guest wrote R.
sweeper_args=(--guest sweeper --mode pvmig --mem 128 --x-sweeper-hints 3
	--bandwidth 256 --downtime 1)
sweeper_r_pages=16384
sweeper_min_cleared=$((2 * sweeper_r_pages))

# use_qemu10: QEMU 10.0 for migrate(): PVMIG_QEMU_10 if it names a binary,
# else the cached build (PVMIG_QEMU_VERSION=10.0 qemu/build.sh, `make
# qemu10`), built here on first use.  Exported as PVMIG_QEMU.
use_qemu10() {
	if [ -z "${PVMIG_QEMU_10:-}" ]; then
		PVMIG_QEMU_VERSION=10.0 PVMIG_SKIP_SETUP=1 "$top/qemu/build.sh"
	fi
	PVMIG_QEMU=${PVMIG_QEMU_10:-$top/build/qemu-10.0/qemu-system-x86_64}
	[ -x "$PVMIG_QEMU" ] || { echo "FAILED: no QEMU 10.0 binary at $PVMIG_QEMU" >&2; exit 1; }
	export PVMIG_QEMU
}

# churn_append SEED: the guest command line of the churn workload (the
# guest allocates, writes, checks and frees memory of every order while it
# migrates), as e2e 30, 31 and 48 run it.
churn_append() {
	echo "pvmig.seed=$1 pvmig.fill_mb=300 pvmig.churn_mb=200 pvmig.hold_mb=32 pvmig.write_kbps=4096"
}

# guest_6_12_args: builds the guest image with Debian 13's 6.12 kernel if
# needed (the first run fetches the kernel) and sets guest_6_12 to the
# driver arguments that boot it.
guest_6_12_args() {
	nice make -s -C "$top" guest GUEST_KERNEL=6.12
	guest_6_12=(--kernel "$top/build/guest-6.12/vmlinuz"
		--initrd "$top/build/guest-6.12/initramfs.cpio.gz")
}

# expect_kernel NAME PREFIX: the guest of test NAME ran a PREFIX* kernel.
expect_kernel() {
	local k
	k=$(field "$1" guest_kernel_version)
	case $k in
	"$2"*) echo "ok: $1 guest kernel $k" ;;
	*) echo "FAILED: $1 guest kernel $k, not $2*" >&2; exit 1 ;;
	esac
}
