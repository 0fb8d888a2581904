#!/usr/bin/env bash
# apt for another Debian suite, without touching the host's apt state.
#
#   tools/apt-suite.sh --mirror                 the Debian archive URI
#   tools/apt-suite.sh SUITE apt-get-args...    e.g. trixie source qemu
#                                                    trixie download gcc-14
#
# The archive URI and keyring are read from the machine's own apt
# configuration (deb822 debian.sources, else sources.list), so no mirror
# is ever named in this repository.  SUITE gets its own sources, lists and
# archive cache under $PVMIG_CACHE/apt/SUITE (updated when older than a
# day); the host's lists, cache and dpkg status are left as they are.
# Only fetching commands make sense here (source, download, --print-uris);
# installing into the host would mix suites.
set -euo pipefail

cache=${PVMIG_CACHE:-/var/cache/pvmig}
die() { echo "apt-suite: $*" >&2; exit 1; }

# The first "deb" URI for the Debian archive (not -security) and its keyring.
archive_uri() {
	local f=/etc/apt/sources.list.d/debian.sources
	if [ -e "$f" ]; then
		awk '/^URIs:/ && $2 !~ /security/ { print $2; exit }' "$f"
	elif [ -e /etc/apt/sources.list ]; then
		awk '$1 == "deb" && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list
	fi
}
keyring() {
	local f=/etc/apt/sources.list.d/debian.sources k=
	[ -e "$f" ] && k=$(awk '/^Signed-By:/ { print $2; exit }' "$f")
	echo "${k:-/usr/share/keyrings/debian-archive-keyring.gpg}"
}

uri=$(archive_uri)
[ -n "$uri" ] || die "no Debian archive found in the machine's apt configuration"
if [ "${1:-}" = --mirror ]; then
	echo "$uri"
	exit 0
fi
[ $# -ge 2 ] || die "usage: $0 --mirror | SUITE apt-get-args..."
suite=$1
shift
case $suite in *[!a-z0-9-]*) die "bad suite name: $suite" ;; esac

dir=$cache/apt/$suite
mkdir -p "$dir/lists/partial" "$dir/archives/partial" "$dir/parts"
cat >"$dir/sources.sources" <<EOF
Types: deb deb-src
URIs: $uri
Suites: $suite
Components: main
Signed-By: $(keyring)
EOF
opts=(-o "Dir::Etc::SourceList=$dir/sources.sources"
	-o "Dir::Etc::SourceParts=$dir/parts"
	-o "Dir::State::Lists=$dir/lists"
	-o "Dir::Cache::Archives=$dir/archives"
	-o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
	-o "APT::Get::List-Cleanup=0")

# Update at most once a day, under a lock so parallel callers share it.
(
	flock 9
	if [ -z "$(find "$dir/updated" -mmin -1440 2>/dev/null)" ]; then
		apt-get "${opts[@]}" -qq update || die "apt-get update for $suite failed"
		touch "$dir/updated"
	fi
) 9>"$dir/lock"

exec apt-get "${opts[@]}" "$@"
