// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "hintlog.h"
#include "ramcmp.h"
#include "pvmig_page_hash.h"
#include "test_util.h"

#define NPAGES 1100	/* more than one 4 MiB chunk of the comparator */
#define SIZE ((uint64_t)NPAGES * PVMIG_PAGE_SIZE)

struct fixture {
	unsigned char *src, *dst;
	char *src_path, *dst_path;
	struct hintlog log;
};

static void fill_page(unsigned char *p, unsigned seed)
{
	for (unsigned i = 0; i < PVMIG_PAGE_SIZE; i++)
		p[i] = (unsigned char)(seed * 31 + i * 7 + (i >> 8));
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->src = calloc(NPAGES, PVMIG_PAGE_SIZE);
	f->dst = calloc(NPAGES, PVMIG_PAGE_SIZE);
	for (unsigned p = 0; p < NPAGES; p += 3)
		fill_page(f->src + (size_t)p * PVMIG_PAGE_SIZE, p);
	memcpy(f->dst, f->src, SIZE);
	f->src_path = test_tmpfile("ramcmp-src");
	f->dst_path = test_tmpfile("ramcmp-dst");
	hintlog_init(&f->log, SIZE);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	unlink(f->src_path);
	unlink(f->dst_path);
	free(f->src_path);
	free(f->dst_path);
	free(f->src);
	free(f->dst);
	hintlog_free(&f->log);
	free(f);
	return 0;
}

static unsigned char *page(unsigned char *base, unsigned p)
{
	return base + (size_t)p * PVMIG_PAGE_SIZE;
}

static void log_page(struct fixture *f, unsigned p, uint64_t hash)
{
	char line[128];

	snprintf(line, sizeof(line), "ram0 %llx %llx\n",
		 (unsigned long long)p * PVMIG_PAGE_SIZE,
		 (unsigned long long)hash);
	hintlog_parse_line(&f->log, line, "ram0");
}

static void run(struct fixture *f, struct ramcmp_result *res)
{
	char err[256] = "";

	test_write_file(f->src_path, f->src, SIZE);
	test_write_file(f->dst_path, f->dst, SIZE);
	assert_int_equal(ramcmp_files(f->src_path, f->dst_path, SIZE, &f->log,
				      res, err, sizeof(err)), 0);
	assert_int_equal(res->pages, NPAGES);
}

static void test_identical(void **state)
{
	struct fixture *f = *state;
	struct ramcmp_result res;

	log_page(f, 7, 12345);	/* a log entry alone changes nothing */
	run(f, &res);
	assert_int_equal(res.mismatched, 0);
	assert_int_equal(res.excused, 0);
	assert_int_equal(res.lost, 0);
}

static void test_hinted_untouched_page_is_excused(void **state)
{
	struct fixture *f = *state;
	struct ramcmp_result res;

	/* Skipped by a hint: the destination never got it and reads zeros. */
	memset(page(f->dst, 1050), 0, PVMIG_PAGE_SIZE);
	log_page(f, 1050, pvmig_page_hash(page(f->src, 1050), PVMIG_PAGE_SIZE));
	run(f, &res);
	assert_int_equal(res.mismatched, 1);
	assert_int_equal(res.excused, 1);
	assert_int_equal(res.lost, 0);
}

/*
 * init_on_free: the source zeroed the page when freeing it after it was
 * sent, and the hint skipped the zero.  The destination's older copy would
 * be handed out as zeroed memory, so it is lost, not excused.
 */
static void test_stale_copy_of_zero_free_page_is_lost(void **state)
{
	struct fixture *f = *state;
	struct ramcmp_result res;

	memset(page(f->src, 300), 0, PVMIG_PAGE_SIZE);
	log_page(f, 300, pvmig_page_hash(page(f->src, 300), PVMIG_PAGE_SIZE));
	f->log.free_reads_zero = true;
	run(f, &res);
	assert_int_equal(res.mismatched, 1);
	assert_int_equal(res.excused, 0);
	assert_int_equal(res.lost, 1);
	assert_int_equal(res.lost_off[0], 300 * PVMIG_PAGE_SIZE);
}

/* init_on_free: a hinted page the destination never received reads zero. */
static void test_zero_copy_of_zero_free_page_is_excused(void **state)
{
	struct fixture *f = *state;
	struct ramcmp_result res;

	log_page(f, 303, pvmig_page_hash(page(f->src, 303), PVMIG_PAGE_SIZE));
	memset(page(f->dst, 303), 0, PVMIG_PAGE_SIZE);
	f->log.free_reads_zero = true;
	run(f, &res);
	assert_int_equal(res.excused, 1);
	assert_int_equal(res.lost, 0);
}

static void test_hash_mismatch_is_lost(void **state)
{
	struct fixture *f = *state;
	struct ramcmp_result res;

	/* Hinted, but the guest wrote the page afterwards: that write was lost. */
	log_page(f, 3, pvmig_page_hash(page(f->src, 3), PVMIG_PAGE_SIZE));
	page(f->src, 3)[100] ^= 1;
	memset(page(f->dst, 3), 0, PVMIG_PAGE_SIZE);
	run(f, &res);
	assert_int_equal(res.mismatched, 1);
	assert_int_equal(res.excused, 0);
	assert_int_equal(res.lost, 1);
	assert_int_equal(res.nlost_off, 1);
	assert_int_equal(res.lost_off[0], 3 * PVMIG_PAGE_SIZE);
}

static void test_unlogged_difference_is_lost(void **state)
{
	struct fixture *f = *state;
	struct ramcmp_result res;

	page(f->dst, 0)[0] ^= 0xff;
	page(f->dst, NPAGES - 1)[PVMIG_PAGE_SIZE - 1] ^= 0x01;
	log_page(f, 1, pvmig_page_hash(page(f->src, 0), PVMIG_PAGE_SIZE));
	run(f, &res);
	assert_int_equal(res.mismatched, 2);
	assert_int_equal(res.lost, 2);
	assert_int_equal(res.lost_off[0], 0);
	assert_int_equal(res.lost_off[1], (uint64_t)(NPAGES - 1) * PVMIG_PAGE_SIZE);
}

static void test_only_last_hint_counts(void **state)
{
	struct fixture *f = *state;
	struct ramcmp_result res;

	/* Hinted with the final content, later hinted again with other content. */
	log_page(f, 9, pvmig_page_hash(page(f->src, 9), PVMIG_PAGE_SIZE));
	log_page(f, 9, 0x1234);
	memset(page(f->dst, 9), 0, PVMIG_PAGE_SIZE);
	run(f, &res);
	assert_int_equal(res.lost, 1);
	assert_int_equal(res.excused, 0);
}

static void test_no_log_means_every_difference_is_lost(void **state)
{
	struct fixture *f = *state;
	struct ramcmp_result res;
	char err[256];

	for (unsigned p = 0; p < NPAGES; p += 100)
		page(f->dst, p)[17] ^= 0x40;
	test_write_file(f->src_path, f->src, SIZE);
	test_write_file(f->dst_path, f->dst, SIZE);
	assert_int_equal(ramcmp_files(f->src_path, f->dst_path, SIZE, NULL,
				      &res, err, sizeof(err)), 0);
	assert_int_equal(res.mismatched, 11);
	assert_int_equal(res.lost, 11);
	assert_int_equal(res.nlost_off, 11);
}

static void test_short_file_reads_as_zero(void **state)
{
	struct fixture *f = *state;
	struct ramcmp_result res;
	char err[256];

	/* Source page 999 is non-zero (999 % 3 == 0); the destination ends before it. */
	test_write_file(f->src_path, f->src, SIZE);
	test_write_file(f->dst_path, f->dst, 999 * PVMIG_PAGE_SIZE);
	assert_int_equal(ramcmp_files(f->src_path, f->dst_path, SIZE, &f->log,
				      &res, err, sizeof(err)), 0);
	assert_int_equal(res.lost, (NPAGES - 999 + 2) / 3);
}

static void test_missing_file_is_an_error(void **state)
{
	struct fixture *f = *state;
	struct ramcmp_result res;
	char err[256] = "";

	test_write_file(f->src_path, f->src, SIZE);
	unlink(f->dst_path);
	assert_int_equal(ramcmp_files(f->src_path, f->dst_path, SIZE, NULL,
				      &res, err, sizeof(err)), -1);
	assert_non_null(strstr(err, f->dst_path));
}

static void test_gpa_mapping(void **state)
{
	uint64_t gib = 1ULL << 30;

	(void)state;
	assert_int_equal(pc_ram_offset_to_gpa(0x1000, 2 * gib), 0x1000);
	assert_int_equal(pc_ram_offset_to_gpa(2 * gib - 4096, 2 * gib), 2 * gib - 4096);
	/* 4 GiB guest: 3 GiB below the PCI hole, the rest from 4 GiB up. */
	assert_int_equal(pc_ram_offset_to_gpa(3 * gib - 4096, 4 * gib), 3 * gib - 4096);
	assert_int_equal(pc_ram_offset_to_gpa(3 * gib, 4 * gib), 4 * gib);
	assert_int_equal(pc_ram_offset_to_gpa(4 * gib - 4096, 4 * gib), 5 * gib - 4096);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identical, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hinted_untouched_page_is_excused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hash_mismatch_is_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_copy_of_zero_free_page_is_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_copy_of_zero_free_page_is_excused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unlogged_difference_is_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_only_last_hint_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_log_means_every_difference_is_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_file_reads_as_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file_is_an_error, setup, teardown),
		cmocka_unit_test(test_gpa_mapping),
	};

	return cmocka_run_group_tests_name("ramcmp", tests, NULL, NULL);
}
