#!/usr/bin/env bash
# Writes a libvirt domain XML for a pvmig guest from pvmig-domain.xml.in.
#
#   tools/libvirt/mkdomain.sh NAME EMULATOR MEM_MB DISK KERNEL INITRD CONSOLE
#
# Paths must be absolute (libvirt resolves nothing relative).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 7 ] || { echo "usage: $0 NAME EMULATOR MEM_MB DISK KERNEL INITRD CONSOLE" >&2; exit 2; }
for p in "$2" "$4" "$5" "$6" "$7"; do
	case $p in /*) ;; *) echo "mkdomain: not an absolute path: $p" >&2; exit 2 ;; esac
done
case $3 in *[!0-9]*|'') echo "mkdomain: MEM_MB must be a number: $3" >&2; exit 2 ;; esac
esc() { printf '%s' "$1" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e "s/'/\&apos;/g" -e 's/[|]/\\|/g'; }
sed -e "s|@NAME@|$(esc "$1")|" -e "s|@EMULATOR@|$(esc "$2")|" -e "s|@MEM_MB@|$3|" \
	-e "s|@DISK@|$(esc "$4")|" -e "s|@KERNEL@|$(esc "$5")|" -e "s|@INITRD@|$(esc "$6")|" \
	-e "s|@CONSOLE@|$(esc "$7")|g" "$here/pvmig-domain.xml.in"
