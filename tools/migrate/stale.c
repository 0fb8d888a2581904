// SPDX-License-Identifier: MIT
/*
 * --x-stale-free: the deterministic reproduction of a stale free page.
 *
 * A guest booted with init_on_free=1 and pvmig.stale_mb=N fills N MiB with
 * a pattern and holds it (guest/workload/pvmig-freeprobe.c).  The migration
 * runs at --bandwidth until the first pass has sent everything, buffer
 * included (a second bitmap sync: QEMU syncs when a pass runs dry).  Then
 * the guest frees the buffer, which zeroes it, and the driver waits for two
 * more syncs: the first collects the zeroed pages and opens the epoch in
 * which the guest reports them free, the second closes it.  The held data
 * the guest rewrites keeps each pass busy, so the hint lands before the
 * migration thread reaches the zeroed pages.  Only then are the bandwidth
 * and downtime limits lifted so the migration completes.  A device that
 * skipped those pages would leave the pattern on the destination, where the
 * zero check after the switch finds it.
 */
#include "run.h"

#define STALE_FREE_TIMEOUT_MS 30000

int stale_wait_held(struct run *r)
{
	int64_t deadline = now_ms() + STALE_FREE_TIMEOUT_MS;

	while (!r->src.con.st.stale_held) {
		if (now_ms() > deadline || util_interrupted)
			return infra_fail(r, FAIL_SETUP, "--x-stale-free: the guest never "
					  "reported PVMIG-STALE-HELD (is "
					  "pvmig.stale_mb set?)");
		sleep_ms(POLL_MS);
		console_poll(&r->src.con);
	}
	return EXIT_OK;
}

int stale_step(struct run *r, struct stale_phase *ph, json_t *q, int64_t t0)
{
	int64_t syncs = jint(q, "ram.dirty-sync-count");
	int rc;

	switch (ph->state) {
	case STALE_SENDING:
		if (syncs < 2)
			return EXIT_OK;
		info("stale: first pass sent (%lld syncs); freeing the buffer",
		     (long long)syncs);
		rc = control_send(r, &r->src, "free\n");
		if (rc)
			return rc;
		ph->state = STALE_FREEING;
		ph->since_ms = now_ms();
		set_int(r->out, "stale_free_at_ms", now_ms() - t0);
		return EXIT_OK;
	case STALE_FREEING:
		console_poll(&r->src.con);
		if (!r->src.con.st.stale_freed) {
			if (now_ms() - ph->since_ms > STALE_FREE_TIMEOUT_MS)
				return infra_fail(r, FAIL_SETUP, "--x-stale-free: no "
						  "PVMIG-STALE-FREED from the guest");
			return EXIT_OK;
		}
		ph->freed_at_sync = syncs;
		ph->state = STALE_SETTLING;
		return EXIT_OK;
	case STALE_SETTLING:
		if (syncs < ph->freed_at_sync + 2)
			return EXIT_OK;
		info("stale: two syncs after the free; lifting the limits");
		set_int(r->out, "stale_lifted_at_ms", now_ms() - t0);
		ph->state = STALE_DONE;
		return lift_limits(r);
	case STALE_OFF:
	case STALE_DONE:
		break;
	}
	return EXIT_OK;
}
