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
