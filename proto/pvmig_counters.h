/* SPDX-License-Identifier: MIT */
/*
 * The pvmig device's counters: the one list.
 *
 * The device (its state struct and its read-only QOM properties
 * "stat-<name with dashes>"), the migration driver (which reads each one
 * into its results as "pvmig.<name>") and the documentation all come from
 * this table.  Every counter is a uint64_t, reset when a migration starts.
 *
 * X(name, description)
 */
#ifndef PVMIG_COUNTERS_H
#define PVMIG_COUNTERS_H

#define PVMIG_COUNTERS(X)                                                     \
	X(epochs, "epochs opened: REQUESTs sent after a bitmap sync")          \
	X(ranges, "free ranges received in accepted chunks")                  \
	X(pages_hinted, "pages named free in accepted chunks")                \
	X(pages_cleared, "pages cleared from the migration bitmap")           \
	X(pages_zero_resend,                                                  \
	  "hinted pages kept dirty because they were sent already "           \
	  "(guests whose free pages must read as zero)")                      \
	X(pages_not_ram, "hinted pages outside migratable RAM, ignored")      \
	X(bytes_received, "bytes read from the guest's port")                 \
	X(hint_latency_us, "epoch 1: its REQUEST to its last batch applied")  \
	X(setup_wait_us, "time the setup notifier waited for epoch 1")        \
	X(bitmap_wait_us, "time spent waiting for the bitmap mutex")          \
	X(stale_messages, "messages dropped for a closed or future epoch")    \
	X(rejected_messages, "sum of every rejected_* counter")               \
	X(rejected_poison, "refusals: poisoning with a non-zero pattern")     \
	X(rejected_postcopy, "refusals: postcopy-ram enabled")                \
	X(rejected_no_agent, "refusals: no agent connected")                  \
	X(rejected_invalid, "refusals: a malformed message")                  \
	X(rejected_dirty_log, "refusals: a dirty log hints are unsafe with")  \
	X(rejected_contract, "refusals: contradictory free-page claims")      \
	X(rejected_dest_unzeroed,                                             \
	  "refusals: zero-contract guest, destination RAM not zeroed")        \
	X(rejected_rearm, "refusals: the dirty-log re-arm failed")            \
	X(rearms, "dirty-log re-arms before a REQUEST (KVM manual protect)")  \
	X(rearm_chunks, "clear_bmap chunks the re-arms cleared")              \
	X(rearm_us, "total time spent re-arming")                             \
	X(rearm_max_us, "longest single re-arm")                              \
	X(walk_us, "epoch 1: the guest's walk of its free pages (its END)")   \
	X(agent_us, "epoch 1: the agent's answer, REQUEST to END (its END)")  \
	X(hint_log_us, "test only: time the hint log took on this migration")

#endif
