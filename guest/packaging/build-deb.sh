#!/usr/bin/env bash
# Builds the pvmig guest package (make deb): copies what the package is
# built from into a staging tree under $BUILD/deb/, adds debian/ from
# guest/packaging/debian, runs dpkg-buildpackage there and lintian on the
# result.  The .deb lands in $BUILD/deb/ and its path is printed last.
#
#   guest/packaging/build-deb.sh [--no-lintian]
#
# --no-lintian is for tests that only need the package.
set -euo pipefail
lintian=true
[ "${1:-}" = --no-lintian ] && lintian=false

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$root/build}
out=$build/deb
version=$(dpkg-parsechangelog -l "$root/guest/packaging/debian/changelog" -S Version)
src=$out/pvmig-$version

for tool in dpkg-buildpackage dh dh_dkms lintian; do
	command -v "$tool" >/dev/null ||
		{ echo "build-deb: $tool missing (tools/setup-host.sh installs it)" >&2; exit 1; }
done

rm -rf "$src"
mkdir -p "$src/guest"
# Only the package's inputs: the agent, the module's sources, the packaging
# files and the wire library they share.  No build output from the checkout.
cp -a "$root/proto" "$src/proto"
cp -a "$root/guest/agent" "$root/guest/module" "$root/guest/packaging" "$src/guest/"
rm -rf "$src/guest/packaging/debian" "$src/guest/module/bench" "$src/guest/module/tests"
find "$src" \( -name '*.o' -o -name '*.ko' -o -name '*.cmd' -o -name '*.mod*' \) -delete
cp -a "$root/guest/packaging/debian" "$src/debian"

(cd "$src" && dpkg-buildpackage -us -uc -b)

arch=$(dpkg-architecture -qDEB_HOST_ARCH)
deb=$out/pvmig_${version}_${arch}.deb
test -f "$deb"
if $lintian; then
	echo "build-deb: lintian:"
	lintian --info --display-info "$out/pvmig_${version}_${arch}.changes" || true
fi
echo "$deb"
