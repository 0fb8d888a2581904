#!/usr/bin/env bash
# make bench-module: snapshot time and longest zone->lock hold of pvmig.ko
# in 1, 2, 4 and 8 GB TCG guests, idle and with fragmented free memory.
# Writes bench/results/module.json and prints a table.
# Needs the guest image with this module in it: `make guest` first.  The
# free-list walk prototype (bench/listwalk) is built here and added to a
# copy of that image, so it is never in the test guest or in DKMS.
#   guest/module/bench/run.sh [--sizes "1024 2048"] [--snaps N] [--out FILE]
set -euo pipefail

top=$(cd "$(dirname "$0")/../../.." && pwd)
sizes="1024 2048 4096 8192"
snaps=9
out=$top/bench/results/module.json
while [ $# -gt 0 ]; do
	case "$1" in
	--sizes) sizes=$2; shift 2 ;;
	--snaps) snaps=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	*) echo "usage: run.sh [--sizes \"MB ...\"] [--snaps N] [--out FILE]" >&2; exit 2 ;;
	esac
done
for f in "$top/build/guest/bin/pvmig-bench-module" "$top/build/guest/initramfs.cpio.gz"; do
	[ -e "$f" ] || { echo "bench/run.sh: $f missing; run 'make guest'" >&2; exit 2; }
done

rows=$(mktemp)
work=$(mktemp -d)
trap 'rm -rf "$rows" "$work"' EXIT

make -s -C "$top/guest/module" listwalk
ko=$top/build/module/bench/pvmig_listwalk.ko
kver=$(modinfo -F vermagic "$ko" | cut -d' ' -f1)
mkdir -p "$work/root/lib/modules/$kver/extra"
cp "$ko" "$work/root/lib/modules/$kver/extra/"
# The kernel unpacks concatenated initramfs archives one after the other.
(cd "$work/root" && find lib | cpio -o -H newc --quiet) | gzip -1 >"$work/listwalk.cpio.gz"
cat "$top/build/guest/initramfs.cpio.gz" "$work/listwalk.cpio.gz" >"$work/initramfs.cpio.gz"
for mb in $sizes; do
	log=$(mktemp)
	echo "== ${mb} MB guest" >&2
	rc=0
	# run-guest.sh has no --initrd option; QEMU uses the last -initrd given.
	"$top/tools/run-guest.sh" --mem "$mb" --smp 2 --timeout 1800 \
		--extra "-initrd $work/initramfs.cpio.gz" \
		--append "pvmig.module=1 pvmig.test=bench-module pvmig.test_args=--snaps=$snaps" \
		>"$log" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "bench/run.sh: ${mb} MB guest failed (rc=$rc):" >&2
		tr -d '\r' <"$log" | tail -n 20 >&2
		rm -f "$log"
		exit 1
	fi
	tr -d '\r' <"$log" | sed -n -e 's/^PVMIG-BENCH /type=bench /p' \
		-e 's/^PVMIG-LISTWALK /type=listwalk /p' -e 's/^PVMIG-SWEEP /type=sweep /p' |
		sed "s/^/guest_mb=$mb /" >>"$rows"
	rm -f "$log"
done

# key=value lines -> JSON rows and a table
mkdir -p "$(dirname "$out")"
awk -v date="$(date -u +%Y-%m-%dT%H:%M:%SZ)" -v snaps="$snaps" '
BEGIN { n = 0 }
function row(t) {
	if (t == "bench")
		return sprintf("{\"guest_mb\": %d, \"scenario\": \"%s\", \"snapshot_us\": %s, " \
			"\"max_hold_us\": %s, \"reported_pages\": %s, \"free_pages\": %s, " \
			"\"ranges\": %s, \"lock_holds\": %s, \"holds_over_limit\": %s, \"hold_limit_us\": %s}",
			kv["guest_mb"], kv["scenario"], kv["snapshot_us"], kv["max_hold_us"],
			kv["reported_pages"], kv["free_pages"], kv["ranges"], kv["lock_holds"],
			kv["holds_over_limit"], kv["hold_limit_us"])
	if (t == "sweep")
		return sprintf("{\"guest_mb\": %d, \"scenario\": \"%s\", \"hold_limit_us\": %s, " \
			"\"snapshot_us\": %s, \"max_hold_us\": %s, \"lock_holds\": %s, " \
			"\"holds_over_limit\": %s, \"reported_pages\": %s, \"free_pages\": %s}",
			kv["guest_mb"], kv["scenario"], kv["hold_limit_us"], kv["snapshot_us"],
			kv["max_hold_us"], kv["lock_holds"], kv["holds_over_limit"],
			kv["reported_pages"], kv["free_pages"])
	return sprintf("{\"guest_mb\": %d, \"scenario\": \"%s\", \"walk_us\": %s, " \
		"\"max_hold_us\": %s, \"entries\": %s, \"pages\": %s}",
		kv["guest_mb"], kv["scenario"], kv["walk_us"], kv["max_hold_us"],
		kv["entries"], kv["pages"])
}
function emit(t, name, last,   i, first) {
	printf "  \"%s\": [\n", name
	first = 1
	for (i = 0; i < n; i++) {
		if (type[i] != t)
			continue
		printf "%s    %s", (first ? "" : ",\n"), text[i]
		first = 0
	}
	printf "\n  ]%s\n", (last ? "" : ",")
}
{
	delete kv
	for (i = 1; i <= NF; i++) { split($i, a, "="); kv[a[1]] = a[2] }
	type[n] = kv["type"]
	text[n] = row(kv["type"])
	n++
}
END {
	print "{"
	printf "  \"about\": \"pvmig.ko PFN-scan snapshot in TCG guests (smp 2); per guest and scenario the median " \
		"of %d snapshots; max_hold_us is the median over snapshots of the longest zone->lock hold. " \
		"listwalk: the free-list walk prototype (bench/listwalk, count only, one hold per list, " \
		"unsorted) on the same memory. bound_sweep: both cases at other max_hold_us.\",\n", snaps
	printf "  \"date\": \"%s\",\n", date
	emit("bench", "rows", 0)
	emit("listwalk", "listwalk", 0)
	emit("sweep", "bound_sweep", 1)
	print "}"
}' "$rows" >"$out.tmp"
mv "$out.tmp" "$out"

printf '%8s  %-10s  %11s  %11s  %14s  %10s  %9s  %8s\n' guest_mb scenario snapshot_us \
	max_hold_us reported_pages free_pages coverage ranges
grep '^guest_mb=[0-9]* type=bench ' "$rows" | awk '{
	delete kv
	for (i = 1; i <= NF; i++) { split($i, a, "="); kv[a[1]] = a[2] }
	printf "%8d  %-10s  %11.1f  %11.1f  %14d  %10d  %8.2f%%  %8d\n", kv["guest_mb"], kv["scenario"],
		kv["snapshot_us"], kv["max_hold_us"], kv["reported_pages"], kv["free_pages"],
		kv["free_pages"] ? 100 * kv["reported_pages"] / kv["free_pages"] : 0, kv["ranges"]
}'
echo "free-list walk prototype (count only, unsorted, one hold per list):"
grep ' type=listwalk ' "$rows" | sed 's/type=listwalk //'
echo "hold bound sweep:"
grep ' type=sweep ' "$rows" | sed 's/type=sweep //; s/ mem_total_kb=[0-9]*//'
echo "wrote $out"
