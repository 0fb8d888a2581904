#!/usr/bin/env bash
# A private libvirtd for tests, on a machine without systemd as PID 1:
#
#   tools/libvirt/instance.sh start DIR [HOST_UUID]   prints its URI
#   tools/libvirt/instance.sh stop DIR
#
# The daemon runs in its own mount namespace where /etc/libvirt,
# /run/libvirt, /var/lib/libvirt, /var/cache/libvirt and /var/log/libvirt
# are directories under DIR, so two instances on one machine share nothing
# (two "hosts" for `virsh migrate`, each with its own host UUID) and the
# machine's own libvirt state is not touched.  Clients reach it through
# DIR/run/libvirt-sock: qemu+unix:///system?socket=DIR/run/libvirt-sock.
# QEMU runs as root without cgroups, a security driver or a private /dev:
# none of those is available in a container, and the test needs none.
set -euo pipefail

die() { echo "libvirt-instance: $*" >&2; exit 1; }
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: $0 start|stop DIR [HOST_UUID]"

case $cmd in
start)
	command -v libvirtd >/dev/null || die "libvirtd missing (apt-get install libvirt-daemon-system)"
	[ "$(id -u)" -eq 0 ] || die "needs root (mount namespace)"
	uuid=${3:-$(cat /proc/sys/kernel/random/uuid)}
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	[ -e "$dir/libvirtd.pid" ] && kill -0 "$(cat "$dir/libvirtd.pid")" 2>/dev/null &&
		die "already running in $dir"
	for d in etc run lib cache log; do mkdir -p "$dir/$d"; done
	cp -a /etc/libvirt/. "$dir/etc/"
	cat >"$dir/etc/libvirtd.conf" <<CONF
host_uuid = "$uuid"
unix_sock_group = "root"
unix_sock_rw_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "3:file:$dir/log/libvirtd.log"
CONF
	cat >"$dir/etc/qemu.conf" <<CONF
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
CONF
	# The mount points must exist outside the namespace.
	mkdir -p /etc/libvirt /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt
	unshare --mount --propagation private -- sh -c '
		d=$1
		mount --bind "$d/etc" /etc/libvirt
		mount --bind "$d/run" /run/libvirt
		mount --bind "$d/lib" /var/lib/libvirt
		mount --bind "$d/cache" /var/cache/libvirt
		mount --bind "$d/log" /var/log/libvirt
		exec libvirtd --pid-file "$d/libvirtd.pid"
	' sh "$dir" >"$dir/libvirtd.out" 2>&1 &
	uri="qemu+unix:///system?socket=$dir/run/libvirt-sock"
	for _ in $(seq 100); do
		[ -S "$dir/run/libvirt-sock" ] && virsh -q -c "$uri" version >/dev/null 2>&1 && break
		kill -0 $! 2>/dev/null || { cat "$dir/libvirtd.out" >&2; die "libvirtd exited"; }
		sleep 0.2
	done
	virsh -q -c "$uri" version >/dev/null 2>&1 || die "libvirtd did not answer on $uri"
	echo "$uri"
	;;
stop)
	[ -e "$dir/libvirtd.pid" ] || exit 0
	pid=$(cat "$dir/libvirtd.pid")
	uri="qemu+unix:///system?socket=$dir/run/libvirt-sock"
	# Domains first (their QEMUs are children of this daemon only).
	for dom in $(virsh -q -c "$uri" list --name 2>/dev/null); do
		virsh -q -c "$uri" destroy "$dom" >/dev/null 2>&1 || true
	done
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
	kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
	rm -f "$dir/libvirtd.pid"
	;;
*) die "usage: $0 start|stop DIR [HOST_UUID]" ;;
esac
