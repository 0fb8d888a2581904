# The multifd and file sets of bench/results/qemu-10.0/{multifd-2,multifd-4,file}, as run.
set -e
cd /work/main
q=/work/main/build/qemu-10.0/qemu-system-x86_64
for v in "multifd-2:--multifd 2" "multifd-4:--multifd 4" "file:--file"; do
	name=${v%%:*} args=${v#*:}
	SIZES=2048 SCENARIOS=freed-dirty MODES="none pvmig" REPS=3 PRODUCTION=0 PVMIG_QEMU=$q \
		DRIVER_ARGS="$args" RESULTS=/work/main/bench/results/qemu-10.0/$name tools/bench/run.sh
done
