import unittest

import support  # noqa: F401
from pvmigtools.stats import in_use_kb, in_use_mib, median, spread, verified


class Median(unittest.TestCase):
    def test_odd(self):
        self.assertEqual(median([5, 1, 3]), 3)

    def test_even_is_mean_of_middle_two(self):
        self.assertEqual(median([4, 1, 3, 2]), 2.5)
        self.assertEqual(median([10, 20]), 15)

    def test_one(self):
        self.assertEqual(median([7]), 7)

    def test_empty(self):
        self.assertIsNone(median([]))

    def test_does_not_sort_caller_list(self):
        v = [3, 1, 2]
        median(v)
        self.assertEqual(v, [3, 1, 2])

    def test_spread(self):
        self.assertEqual(spread([3, 9, 1, 4]), (3.5, 1, 9))
        self.assertIsNone(spread([]))


class InUse(unittest.TestCase):
    def test_ram_minus_free(self):
        run = {"guest_mb": 1024, "guest_free_kb": 700 * 1024}
        self.assertEqual(in_use_kb(run), 324 * 1024)
        self.assertEqual(in_use_mib(run), 324)

    def test_missing_or_not_a_number(self):
        self.assertIsNone(in_use_kb({"guest_mb": 1024}))
        self.assertIsNone(in_use_kb({"guest_free_kb": 5}))
        self.assertIsNone(in_use_kb({"guest_mb": "1024", "guest_free_kb": 5}))
        self.assertIsNone(in_use_mib({"guest_mb": True, "guest_free_kb": 5}))

    def test_verified_is_only_true(self):
        runs = [{"verified": True}, {"verified": False}, {}, {"verified": 1}]
        self.assertEqual(verified(runs), [{"verified": True}])


if __name__ == "__main__":
    unittest.main()
