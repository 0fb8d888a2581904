"""The soak's random numbers: a 31-bit LCG seeded through SHA-256.

Small, and the same generator the soak has always used, so that a seed
names the same plan it named before (given the same attack list).
"""

import hashlib

MOD = 2147483648  # 2**31


def hash31(text):
    """31 bits of SHA-256 of text: seeds are mixed through a hash, so one
    run's draws are never another's shifted by a step."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) % MOD


def next_seed(seed):
    """The seed of the run after the run with this seed."""
    return hash31(f"next-{seed}")


class Rng:
    def __init__(self, state):
        self.state = state

    def rnd(self, lo, hi):
        """A value in [lo, hi]."""
        if hi < lo:
            raise ValueError(f"empty range {lo}..{hi} (guest too small for this draw?)")
        self.state = (self.state * 1103515245 + 12345) % MOD
        return lo + (self.state >> 8) % (hi - lo + 1)

    def chance(self, percent):
        return self.rnd(1, 100) <= percent

    def pick(self, *words):
        return words[self.rnd(1, len(words)) - 1]
