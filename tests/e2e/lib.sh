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

# field NAME KEY [INDEX]: a value from that test's JSON array (default: last run)
field() {
	jq -r ".[${3:--1}].$2" "$out/$1.json"
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
