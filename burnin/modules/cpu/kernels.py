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
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from burnin.modules.cpu import coherence as _coherence
from burnin.modules.cpu import vector as _vector

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
    arrays: Mapping[str, Any] = field(default_factory=dict)  # numpy inputs of the vector kernels (lazy)
    lanes: Any = None  # the coherence kernel's shared page (`coherence.Lanes`), made before the workers fork


def make_inputs(seed: int = INPUT_SEED, names=(), cpus=()) -> KernelInputs:
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
        arrays=_vector.make_arrays(seed, names),
        lanes=_coherence.Lanes.create(cpus) if "coherence" in names and cpus else None,
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


KERNELS: Mapping[str, Callable[[KernelInputs], Any]] = {
    "sha256": sha256,
    "blake2b": blake2b,
    "integer": integer,
    "float": floating,
    "zlib": zlib_round_trip,
    "lzma": lzma_round_trip,
    "bignum": bignum,
    **_vector.NUMPY_KERNELS,
    **_vector.AES_KERNELS,
    "crc32c": _vector.crc32c_kernel,
    "coherence": _coherence.coherence,
}

# kernel -> its instruction class (what the journal and the benchmark's coverage table name)
CLASS_OF: Mapping[str, str] = {
    "integer": "scalar-int", "blake2b": "scalar-int", "float": "scalar-fp",
    **{k: "vector-fp-fma" for k in _vector.NUMPY_KERNELS},
    "aes-gcm": "aes", "aes-ctr": "aes", "sha256": "sha", "crc32c": "crc32c", "bignum": "bignum",
    "zlib": "compression", "lzma": "compression", "coherence": "coherence",
}
CLASSES = tuple(dict.fromkeys(CLASS_OF.values()))
# kernels whose answer is a fixed text rather than a computed reference: the check is inside the kernel
SELF_CHECKED = {"coherence": "ok"}


def unit_of(cls: str, flags: frozenset[str] | set[str], crc_hardware: bool | None = None) -> str:
    """The execution unit a class exercises on a CPU with these /proc/cpuinfo flags (x86 and arm64 names)."""
    if cls == "vector-fp-fma":
        if any(f.startswith("avx512f") for f in flags):
            return "AVX-512 FMA (OpenBLAS, pocketfft)"
        if "avx2" in flags and "fma" in flags:
            return "AVX2 + FMA3 (OpenBLAS, pocketfft)"
        if "asimd" in flags:
            return "NEON/ASIMD FMA (OpenBLAS, pocketfft)"
        return "SSE2 vector FP, no FMA (OpenBLAS, pocketfft)"
    if cls == "aes":
        return "AES-NI + PCLMULQDQ (OpenSSL)" if "aes" in flags else "software AES (OpenSSL, no AES instructions)"
    if cls == "sha":
        return "SHA-NI (OpenSSL)" if {"sha_ni", "sha2"} & set(flags) else "scalar SHA-256 (OpenSSL)"
    if cls == "crc32c":
        if crc_hardware is False:
            return "software CRC32C (the crc32c package found no CRC instruction)"
        return "SSE4.2 crc32" if "sse4_2" in flags else ("ARMv8 CRC32" if "crc32" in flags else "CRC32C")
    return {
        "scalar-int": "integer ALU and multiplier (xorshift, BLAKE2b)",
        "scalar-fp": "scalar FP add/mul/div/sqrt",
        "bignum": "integer multiply (CPython big numbers)",
        "compression": "branchy integer code, caches (zlib, LZMA)",
        "coherence": "cache coherence between cores (shared lines, seqlock)",
    }.get(cls, cls)


def unavailable(name: str) -> str | None:
    """Why kernel `name` cannot run on this machine (a library is missing, the memory model), or None."""
    if name == "coherence":
        return _coherence.supported()
    return _vector.missing_library(name)


def answer(result: Any) -> str:
    """A kernel's result as the text that is compared: text as is, raw buffers by their digest."""
    return result if isinstance(result, str) else _vector.digest(result)


def compute_golden(inputs: KernelInputs, names: list[str] | tuple[str, ...]) -> dict[str, str]:
    """The answer of each kernel, computed in the calling process (the engine computes the references on two
    pinned cores instead: see `engine.compute_references`)."""
    return {name: SELF_CHECKED.get(name) or answer(KERNELS[name](inputs)) for name in names}
