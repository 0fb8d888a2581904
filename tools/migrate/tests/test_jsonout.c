// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "jsonout.h"
#include "test_util.h"

static json_t *load(const char *path)
{
	json_error_t e;
	json_t *j = json_load_file(path, 0, &e);

	assert_non_null(j);
	return j;
}

static void test_creates_then_appends(void **state)
{
	char *path = test_tmpfile("json");
	char err[256];
	json_t *a, *arr;

	(void)state;
	unlink(path);
	a = json_pack("{s:s, s:i}", "mode", "none", "pages_lost", 0);
	assert_int_equal(json_array_append_file(path, a, err, sizeof(err)), 0);
	json_decref(a);
	arr = load(path);
	assert_true(json_is_array(arr));
	assert_int_equal(json_array_size(arr), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "mode")), "none");
	json_decref(arr);

	a = json_pack("{s:s}", "mode", "pvmig");
	assert_int_equal(json_array_append_file(path, a, err, sizeof(err)), 0);
	json_decref(a);
	arr = load(path);
	assert_int_equal(json_array_size(arr), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "mode")), "none");
	assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 1), "mode")), "pvmig");
	json_decref(arr);
	unlink(path);
	free(path);
}

static void test_empty_file_becomes_array(void **state)
{
	char *path = test_tmpfile("json");
	char err[256];
	json_t *a = json_pack("{s:b}", "verified", 1), *arr;

	(void)state;
	test_write_file(path, " \n", 2);
	assert_int_equal(json_array_append_file(path, a, err, sizeof(err)), 0);
	arr = load(path);
	assert_int_equal(json_array_size(arr), 1);
	json_decref(arr);
	json_decref(a);
	unlink(path);
	free(path);
}

static void test_shrinking_rewrite_leaves_no_tail(void **state)
{
	/* Pretty-printed input rewritten compactly must not keep stale bytes. */
	static const char text[] = "[\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n]\n";
	char *path = test_tmpfile("json");
	char err[256];
	json_t *a = json_pack("{}"), *arr;

	(void)state;
	test_write_file(path, text, sizeof(text) - 1);
	assert_int_equal(json_array_append_file(path, a, err, sizeof(err)), 0);
	arr = load(path);
	assert_int_equal(json_array_size(arr), 1);
	json_decref(arr);
	json_decref(a);
	unlink(path);
	free(path);
}

static void test_refuses_non_array(void **state)
{
	static const char obj[] = "{\"a\": 1}\n", junk[] = "[1, 2,";
	char *path = test_tmpfile("json");
	char err[256], back[64] = "";
	json_t *a = json_pack("{}");
	FILE *f;

	(void)state;
	test_write_file(path, obj, sizeof(obj) - 1);
	assert_int_equal(json_array_append_file(path, a, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not an array"));
	f = fopen(path, "r");
	assert_non_null(fgets(back, sizeof(back), f));
	fclose(f);
	assert_string_equal(back, obj);	/* untouched */

	test_write_file(path, junk, sizeof(junk) - 1);
	assert_int_equal(json_array_append_file(path, a, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not JSON"));
	json_decref(a);
	unlink(path);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_creates_then_appends),
		cmocka_unit_test(test_empty_file_becomes_array),
		cmocka_unit_test(test_shrinking_rewrite_leaves_no_tail),
		cmocka_unit_test(test_refuses_non_array),
	};

	return cmocka_run_group_tests_name("jsonout", tests, NULL, NULL);
}
