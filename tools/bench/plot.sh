#!/usr/bin/env bash
# Plots medians of verified runs: one PNG per scenario for total time and
# one for bytes sent, bars per mode over guest sizes, the in-use memory (guest
# RAM minus its free memory: the physical limit for bytes) drawn as a line.
#   plot.sh RESULTS.json OUT_DIR
set -euo pipefail
json=${1:?usage: plot.sh RESULTS.json OUT_DIR} outdir=${2:?usage: plot.sh RESULTS.json OUT_DIR}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# scenario guest_mb mode median_total_ms median_sent_mib median_used_mib
PYTHONPATH="$(cd "$(dirname "$0")/.." && pwd)${PYTHONPATH:+:$PYTHONPATH}" \
	python3 -m pvmigtools plot-data "$json" >"$tmp/all.tsv"

for scenario in $(cut -f1 "$tmp/all.tsv" | sort -u); do
	modes=$(awk -v s="$scenario" '$1 == s { print $3 }' "$tmp/all.tsv" | sort -u | tr '\n' ' ')
	# One row per guest size: size, then time and MiB for each mode, then limit.
	for mb in $(awk -v s="$scenario" '$1 == s { print $2 }' "$tmp/all.tsv" | sort -nu); do
		row="$mb"
		for m in $modes; do
			row="$row $(awk -v s="$scenario" -v g="$mb" -v m="$m" \
				'$1 == s && $2 == g && $3 == m { print $4, $5 }' "$tmp/all.tsv" | head -n 1)"
		done
		limit=$(awk -v s="$scenario" -v g="$mb" '$1 == s && $2 == g { print $6; exit }' "$tmp/all.tsv")
		echo "$row $limit"
	done >"$tmp/$scenario.dat"
	nm=$(wc -w <<<"$modes")
	for what in time bytes; do
		if [ $what = time ]; then off=0 ylabel="total time (ms)"; else off=1 ylabel="bytes sent (MiB)"; fi
		plots="" k=0
		for m in $modes; do
			plots="$plots '$tmp/$scenario.dat' using $((2 + 2 * k + off)):xtic(1) title '$m',"
			k=$((k + 1))
		done
		[ $what = bytes ] && plots="$plots '$tmp/$scenario.dat' using 0:$((2 + 2 * nm)) with linespoints lw 2 title 'in-use memory (limit)',"
		gnuplot <<GP
set terminal pngcairo size 800,500 noenhanced
set output '$outdir/$scenario-$what.png'
set title '$scenario: $ylabel (median of verified runs)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set xlabel 'guest RAM (MiB)'
set ylabel '$ylabel'
set yrange [0:*]
set offsets 0, 0, graph 0.08, 0
set key top left
plot ${plots%,}
GP
	done
done
ls "$outdir"/*.png >/dev/null 2>&1 && echo "plots: $(ls "$outdir"/*.png | tr '\n' ' ')"
