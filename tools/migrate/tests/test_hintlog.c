// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "hintlog.h"
#include "test_util.h"

#define BLOCK_BYTES (16 * PVMIG_PAGE_SIZE)

static void test_parses_valid_lines(void **state)
{
	struct hintlog h;
	uint64_t hash;

	(void)state;
	hintlog_init(&h, BLOCK_BYTES);
	hintlog_parse_line(&h, "ram0 0 deadbeef\n", "ram0");
	hintlog_parse_line(&h, "ram0 0x3000 0xCAFEf00d12345678\n", "ram0");
	hintlog_parse_line(&h, "  ram0\t5000   ffffffffffffffff\r\n", "ram0");
	assert_int_equal(h.entries, 3);
	assert_int_equal(h.pages, 3);
	assert_int_equal(h.malformed, 0);
	assert_true(hintlog_lookup(&h, 0, &hash));
	assert_int_equal(hash, 0xdeadbeef);
	assert_true(hintlog_lookup(&h, 3, &hash));
	assert_int_equal(hash, 0xcafef00d12345678ULL);
	assert_true(hintlog_lookup(&h, 5, &hash));
	assert_int_equal(hash, UINT64_MAX);
	assert_false(hintlog_lookup(&h, 1, &hash));
	assert_false(hintlog_lookup(&h, 16, &hash));
	hintlog_free(&h);
}

static void test_runs(void **state)
{
	struct hintlog h;
	uint64_t hash;

	(void)state;
	hintlog_init(&h, BLOCK_BYTES);
	hintlog_parse_line(&h, "ram0 4000 abcd 3\n", "ram0");
	assert_int_equal(h.malformed, 0);
	assert_int_equal(h.pages, 3);
	for (uint64_t p = 4; p < 7; p++) {
		assert_true(hintlog_lookup(&h, p, &hash));
		assert_int_equal(hash, 0xabcd);
	}
	assert_false(hintlog_lookup(&h, 7, &hash));
	/* A run of zero pages, or one past the block, excuses nothing. */
	hintlog_parse_line(&h, "ram0 8000 abcd 0", "ram0");
	hintlog_parse_line(&h, "ram0 8000 abcd 9", "ram0");
	hintlog_parse_line(&h, "ram0 8000 abcd 1 2", "ram0");
	assert_int_equal(h.malformed, 3);
	assert_false(hintlog_lookup(&h, 8, &hash));
	hintlog_free(&h);
}

static void test_later_hint_supersedes(void **state)
{
	struct hintlog h;
	uint64_t hash;

	(void)state;
	hintlog_init(&h, BLOCK_BYTES);
	hintlog_parse_line(&h, "ram0 2000 1111", "ram0");
	hintlog_parse_line(&h, "ram0 2000 2222", "ram0");
	assert_int_equal(h.entries, 2);
	assert_int_equal(h.pages, 1);
	assert_true(hintlog_lookup(&h, 2, &hash));
	assert_int_equal(hash, 0x2222);
	hintlog_free(&h);
}

static void test_rejects_what_it_cannot_place(void **state)
{
	struct hintlog h;
	uint64_t hash;

	(void)state;
	hintlog_init(&h, BLOCK_BYTES);
	hintlog_parse_line(&h, "ram0 1001 1234", "ram0");	/* unaligned */
	hintlog_parse_line(&h, "ram0 10000 1234", "ram0");	/* past the end */
	hintlog_parse_line(&h, "ram0 zz 1234", "ram0");
	hintlog_parse_line(&h, "ram0 1000", "ram0");
	hintlog_parse_line(&h, "ram0 1000 12 extra", "ram0");
	hintlog_parse_line(&h, "ram0 1000 -12", "ram0");
	hintlog_parse_line(&h, "ram0 1000 11112222333344445", "ram0");	/* 65 bits */
	hintlog_parse_line(&h, "ram01 1000 1234", "ram0");	/* other block */
	hintlog_parse_line(&h, "pc.ram 1000 1234", "ram0");
	hintlog_parse_line(&h, "", "ram0");
	hintlog_parse_line(&h, "\n", "ram0");
	assert_int_equal(h.entries, 0);
	assert_int_equal(h.malformed, 7);
	assert_int_equal(h.other_blocks, 2);
	for (uint64_t p = 0; p < 16; p++)
		assert_false(hintlog_lookup(&h, p, &hash));
	hintlog_free(&h);
}

static void test_load_file(void **state)
{
	static const char text[] =
		"#pvmig-hint-log 2\n"
		"ram0 0 a\nvga.vram 0 b\nram0 f000 c\ngarbage\nram0 1000 d";
	char *path = test_tmpfile("hintlog");
	struct hintlog h;
	uint64_t hash;

	(void)state;
	test_write_file(path, text, sizeof(text) - 1);
	assert_int_equal(hintlog_load(&h, path, "ram0", BLOCK_BYTES), 0);
	assert_int_equal(h.entries, 3);
	assert_int_equal(h.other_blocks, 1);
	assert_int_equal(h.malformed, 1);
	assert_true(hintlog_lookup(&h, 15, &hash));
	assert_int_equal(hash, 0xc);
	assert_true(hintlog_lookup(&h, 1, &hash));	/* no final newline */
	assert_int_equal(hash, 0xd);
	hintlog_free(&h);
	unlink(path);

	/* A log of another version, or none (an older QEMU), is refused. */
	test_write_file(path, "#pvmig-hint-log 1\nram0 0 a\n", 25);
	assert_int_equal(hintlog_load(&h, path, "ram0", BLOCK_BYTES), -2);
	assert_int_equal(h.version, 1);
	hintlog_free(&h);
	test_write_file(path, "ram0 0 a\n", 9);
	assert_int_equal(hintlog_load(&h, path, "ram0", BLOCK_BYTES), -2);
	hintlog_free(&h);
	/* A header alone: a QEMU that hinted nothing. */
	test_write_file(path, "#pvmig-hint-log 2\n", 18);
	assert_int_equal(hintlog_load(&h, path, "ram0", BLOCK_BYTES), 0);
	hintlog_free(&h);
	unlink(path);

	/* No log at all (a QEMU without hints): empty, not an error. */
	assert_int_equal(hintlog_load(&h, path, "ram0", BLOCK_BYTES), 0);
	assert_int_equal(h.entries, 0);
	hintlog_free(&h);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parses_valid_lines),
		cmocka_unit_test(test_runs),
		cmocka_unit_test(test_later_hint_supersedes),
		cmocka_unit_test(test_rejects_what_it_cannot_place),
		cmocka_unit_test(test_load_file),
	};

	return cmocka_run_group_tests_name("hintlog", tests, NULL, NULL);
}
