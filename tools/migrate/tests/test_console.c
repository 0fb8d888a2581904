// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "console.h"
#include "test_util.h"

static void test_ready_line(void **state)
{
	struct console_state st = { 0 };

	(void)state;
	console_scan_line(&st, "[    3.1] random kernel line");
	console_scan_line(&st, "[    3.2] rcu: INFO: rcu_sched self-detected stall");
	assert_false(st.ready);
	console_scan_line(&st, "PVMIG-READY used_kb=112480 free_kb=871264");
	assert_true(st.ready);
	assert_int_equal(st.used_kb, 112480);
	assert_int_equal(st.free_kb, 871264);
	assert_false(console_failed(&st));
}

static void test_check_lines(void **state)
{
	struct console_state st = { 0 };

	(void)state;
	console_scan_line(&st, "PVMIG-CHECK sweep=4 pages=8192 bad=0");
	console_scan_line(&st, "PVMIG-CHECK sweep=5 pages=8192 bad=0");
	assert_int_equal(st.checks, 2);
	assert_int_equal(st.last_sweep, 5);
	assert_false(console_failed(&st));
	console_scan_line(&st, "PVMIG-CHECK sweep=6 pages=8192 bad=3");
	assert_true(console_failed(&st));
	assert_int_equal(st.checks_bad, 1);
	assert_string_equal(st.first_failure, "PVMIG-CHECK sweep=6 pages=8192 bad=3");
}

static void test_freeprobe_lines(void **state)
{
	struct console_state st = { 0 };

	(void)state;
	console_scan_line(&st, "PVMIG-STALE-HELD mb=256");
	assert_true(st.stale_held);
	assert_false(st.stale_freed);
	console_scan_line(&st, "PVMIG-STALE-FREED mb=256");
	assert_true(st.stale_freed);
	console_scan_line(&st, "PVMIG-ZEROCHECK pages=150000 nonzero=0");
	assert_true(st.zerocheck_done);
	assert_int_equal(st.zerocheck_pages, 150000);
	assert_int_equal(st.first_failure[0], '\0');
	console_scan_line(&st, "PVMIG-ZEROCHECK pages=150000 nonzero=62976");
	assert_int_equal(st.zerocheck_nonzero, 62976);
	assert_string_equal(st.first_failure,
			    "PVMIG-ZEROCHECK pages=150000 nonzero=62976");
}

static void test_failure_lines(void **state)
{
	const char *lines[] = {
		"PVMIG-CHECK FAIL page=0x1234 expected=1 got=2",
		"[   12.0] BUG: unable to handle page fault for address: 0",
		"[   12.0] Oops: 0000 [#1] PREEMPT SMP NOPTI",
		"[   18.2] kernel BUG at lib/list_debug.c:27!",
		"[   18.2] invalid opcode: 0000 [#1] PREEMPT SMP NOPTI",
		"[   18.2] general protection fault, probably for non-canonical address",
		"[   18.3] Kernel panic - not syncing: Fatal exception in interrupt",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		struct console_state st = { 0 };

		console_scan_line(&st, lines[i]);
		assert_true(console_failed(&st));
		assert_string_equal(st.first_failure, lines[i]);
	}
}

static void test_poll_handles_partial_lines(void **state)
{
	char *path = test_tmpfile("console");
	struct console c = { .name = "test", .path = path };
	FILE *f = fopen(path, "w");

	(void)state;
	fputs("boot\r\nPVMIG-READY used_", f);
	fflush(f);
	console_poll(&c);
	assert_false(c.st.ready);
	fputs("kb=10 free_kb=20\r\nPVMIG-CHECK sweep=1 pages=1 bad=0", f);
	fflush(f);
	console_poll(&c);
	assert_true(c.st.ready);
	assert_int_equal(c.st.used_kb, 10);
	assert_int_equal(c.st.checks, 0);	/* not terminated yet */
	fputs("\n", f);
	fclose(f);
	console_poll(&c);
	assert_int_equal(c.st.checks, 1);
	unlink(path);
	free(path);
}

static void test_fault_counters(void **state)
{
	json_t *acc = json_object();

	(void)state;
	assert_false(console_fault_counters("PVMIG-READY used_kb=1 free_kb=2", acc));
	assert_true(console_fault_counters("[ 9.1] PVMIG-FAULT rmmod_tries=10 rmmod_busy=3\r\n", acc));
	assert_true(console_fault_counters("PVMIG-FAULT rmmod_tries=20 rmmod_busy=2", acc));
	/* A later, smaller value (a fresh count) never lowers the total. */
	assert_int_equal(json_integer_value(json_object_get(acc, "rmmod_tries")), 20);
	assert_int_equal(json_integer_value(json_object_get(acc, "rmmod_busy")), 3);
	/* Garbage ends the parse; what came before it counts. */
	assert_true(console_fault_counters("PVMIG-FAULT a=1 b=x c=3", acc));
	assert_int_equal(json_integer_value(json_object_get(acc, "a")), 1);
	assert_null(json_object_get(acc, "b"));
	assert_null(json_object_get(acc, "c"));
	json_decref(acc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ready_line),
		cmocka_unit_test(test_check_lines),
		cmocka_unit_test(test_freeprobe_lines),
		cmocka_unit_test(test_failure_lines),
		cmocka_unit_test(test_poll_handles_partial_lines),
		cmocka_unit_test(test_fault_counters),
	};

	return cmocka_run_group_tests_name("console", tests, NULL, NULL);
}
