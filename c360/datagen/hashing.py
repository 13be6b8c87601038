"""Counter-based randomness: any record's key facts are a pure function of (seed, stream, index).

This is what keeps memory flat: a purchase can name a customer id, and a feedback row a purchase of
that customer, by recomputing them instead of remembering them.
"""

from __future__ import annotations

M64 = (1 << 64) - 1
_INV53 = 2.0**-53


def h64(seed: int, stream: int, i: int) -> int:
    """splitmix64 finaliser over a linear combination of the three inputs."""
    z = (seed * 0x9E3779B97F4A7C15 + stream * 0xC2B2AE3D27D4EB4F + i * 0x165667B19E3779F9 + 0x632BE59BD9B4E019) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def unit(seed: int, stream: int, i: int) -> float:
    """A uniform float in [0, 1)."""
    return (h64(seed, stream, i) >> 11) * _INV53


class Permutation:
    """A bijection of range(n) (an affine map modulo n): spreads chosen indices over the whole range."""

    def __init__(self, n: int, seed: int, salt: int):
        self.n = max(n, 1)
        a = h64(seed, salt, 1) % self.n or 1
        while _gcd(a, self.n) != 1:
            a += 1
        self.a = a
        self.b = h64(seed, salt, 2) % self.n

    def __call__(self, i: int) -> int:
        return (i * self.a + self.b) % self.n


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


# Source customer ids: <system>-<9 digits>, an affine bijection modulo 10**9 per source system, so ids
# are unique by construction and the same person's ids in two systems share nothing.
ID_SPACE = 10**9
SYSTEMS = ("CRM", "WEB", "POS")
_ID_MUL = (387_420_489, 282_475_249, 244_140_623 * 4 + 1)  # each coprime with 10**9


def source_id(system: int, n: int, seed: int) -> str:
    return f"{SYSTEMS[system]}-{(n * _ID_MUL[system] + h64(seed, 900 + system, 0)) % ID_SPACE:09d}"
