/* SPDX-License-Identifier: MIT */
/*
 * The channel to the host: a virtio-serial port device node, or for tests
 * "unix:PATH", a Unix stream socket.  Always non-blocking.
 */
#ifndef PVMIG_AGENT_PORT_H
#define PVMIG_AGENT_PORT_H

/* Returns an fd, or -errno (ENOENT: the node is not there yet). */
int port_open(const char *path);

#endif
