"""The built-in CPU engine's compute kernels: short, deterministic jobs whose answers are known in advance.

Each kernel exercises a different part of a core and returns a short text result. The same code on the same
CPU model gives the same bits every time (integer work is exact; the float kernels use only +, -, *, / and
sqrt, which IEEE 754 rounds exactly, and CPython never fuses them), so a core that returns a different answer
than the reference computed in the module process is computing wrong. One iteration takes ~50-150 ms on a
2020s server core, so a worker notices a stop request quickly.
"""

from __future__ import annotations

import hashlib
import lzma
import math
import random
import zlib
from dataclasses import dataclass
from typing import Callable, Mapping

INPUT_SEED = 0x6275726E  # "burn": fixed, so a result can be reproduced from the journal alone


@dataclass(frozen=True)
class KernelInputs:
    """The data every kernel works on; built once in the module process and shared with workers by fork."""

    random_bytes: bytes  # incompressible, for the hashes
    text: bytes  # compressible text with noise, for the compressors
    modulus: int  # a 2203-bit Mersenne prime, for modular exponentiation
    bases: tuple[int, ...]
    factor_a: int  # ~400 000-bit numbers, for big multiplication (Karatsuba in CPython)
    factor_b: int


def make_inputs(seed: int = INPUT_SEED) -> KernelInputs:
    rng = random.Random(seed)
    words = [b"alpha ", b"bravo ", b"charlie ", b"delta ", b"echo ", b"foxtrot ", b"golf ", b"hotel "]
    chunks = rng.choices(words, k=120_000)
    noise = rng.randbytes(len(chunks))
    text = b"".join(w + noise[i : i + (i % 3)] for i, w in enumerate(chunks))[: 1 << 20]
    modulus = (1 << 2203) - 1
    return KernelInputs(
        random_bytes=rng.randbytes(4 << 20),
        text=text,
        modulus=modulus,
        bases=tuple(rng.getrandbits(2200) | 1 for _ in range(2)),
        factor_a=rng.getrandbits(400_000) | (1 << 399_999),
        factor_b=rng.getrandbits(400_000) | (1 << 399_999),
    )


# -- kernels -------------------------------------------------------------------------------------
def sha256(inp: KernelInputs) -> str:
    """Integer/SHA units (SHA-NI where OpenSSL uses it): 64 MiB hashed."""
    h = hashlib.sha256()
    for _ in range(16):
        h.update(inp.random_bytes)
    return h.hexdigest()


def blake2b(inp: KernelInputs) -> str:
    """64-bit integer add/rotate/xor pipeline: 32 MiB hashed."""
    h = hashlib.blake2b()
    for _ in range(8):
        h.update(inp.random_bytes)
    return h.hexdigest()


def integer(inp: KernelInputs) -> str:
    """Scalar integer ALU: xorshift64 and 64-bit multiplies, 100 000 rounds."""
    mask = (1 << 64) - 1
    x = 0x9E3779B97F4A7C15
    acc = 0
    for _ in range(100_000):
        x ^= (x << 13) & mask
        x ^= x >> 7
        x ^= (x << 17) & mask
        acc = (acc + ((x * 0x2545F4914F6CDD1D) & mask)) & mask
    return f"{acc:016x}"


def floating(inp: KernelInputs) -> str:
    """Scalar floating point: a chaotic logistic map (one wrong bit changes everything after it) and a series."""
    x = 0.3
    total = 0.0
    sqrt = math.sqrt
    for k in range(1, 250_000):
        x = 3.999 * x * (1.0 - x)
        total += x / k + sqrt(k) * 1e-9
    return f"{x.hex()} {total.hex()}"


def zlib_round_trip(inp: KernelInputs) -> str:
    """Compression: deflate 1 MiB and inflate it back; the result names the compressed bytes and the round trip."""
    packed = zlib.compress(inp.text, 6)
    unpacked = zlib.decompress(packed)
    same = "round-trip-ok" if unpacked == inp.text else f"round-trip-differs:{zlib.crc32(unpacked):08x}"
    return f"{zlib.crc32(packed):08x}/{len(packed)} {same}"


def lzma_round_trip(inp: KernelInputs) -> str:
    """Compression: LZMA (preset 1) over 256 KiB and back."""
    data = inp.text[: 256 << 10]
    packed = lzma.compress(data, preset=1)
    unpacked = lzma.decompress(packed)
    same = "round-trip-ok" if unpacked == data else f"round-trip-differs:{zlib.crc32(unpacked):08x}"
    return f"{zlib.crc32(packed):08x}/{len(packed)} {same}"


def bignum(inp: KernelInputs) -> str:
    """Big-number arithmetic: modular exponentiation (2203-bit) and a 400 000-bit multiplication."""
    digest = hashlib.sha256()
    for base in inp.bases:
        digest.update(pow(base, inp.modulus - 2, inp.modulus).to_bytes(276, "little"))
    product = inp.factor_a * inp.factor_b
    digest.update(product.to_bytes((product.bit_length() + 7) // 8, "little"))
    return digest.hexdigest()


KERNELS: Mapping[str, Callable[[KernelInputs], str]] = {
    "sha256": sha256,
    "blake2b": blake2b,
    "integer": integer,
    "float": floating,
    "zlib": zlib_round_trip,
    "lzma": lzma_round_trip,
    "bignum": bignum,
}


def compute_golden(inputs: KernelInputs, names: list[str] | tuple[str, ...]) -> dict[str, str]:
    """The reference answer of each kernel, computed in the calling process."""
    return {name: KERNELS[name](inputs) for name in names}
