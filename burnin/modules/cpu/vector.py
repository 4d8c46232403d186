"""Kernels that need a library: vector floating point (numpy/OpenBLAS, pocketfft), AES (cryptography), CRC32C.

Every import here is lazy: `burnin --help` and the scalar kernels never load numpy or cryptography. A kernel
whose library is missing is not run; `missing_library(name)` says why, and the module journals it.

Vector results are raw buffers (a numpy array's bytes, a ciphertext): the engine digests them (`digest`) after
the test-only fault seam had its chance to flip a bit in them, so a flipped bit is caught the way a real one
would be. Determinism: BLAS runs one thread per worker (`load_numpy` sets the thread variables before the
first import and threadpoolctl limits an already loaded OpenBLAS), so the same inputs on the same CPU model
give the same bits; the reference answers are computed by workers pinned the same way.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import zlib
from typing import Any, Callable

BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")

# Sizes: "cache" stays within a core's L2 (512 KiB on the smallest 2020s server cores: 3 x 128 KiB for DGEMM),
# "memory" spills past a 32 MiB L3 (3 x 18 MiB for DGEMM), so the memory path feeds the FMA units too.
DGEMM_CACHE_N, DGEMM_MEMORY_N = 128, 1536
SGEMM_CACHE_N, SGEMM_MEMORY_N = 176, 2048
CACHE_REPEATS = 200  # small products per call: ~50-150 ms, as long as one big product
FFT_CACHE_N, FFT_MEMORY_N = 1 << 13, 1 << 20
AES_BUFFER = 4 << 20
AES_REPEATS = 24
CRC_REPEATS = 128

_blas_limiter: Any = None


def load_numpy():
    """numpy with BLAS pinned to one thread (set before the first import; limited afterwards if already loaded)."""
    global _blas_limiter
    if "numpy" not in sys.modules:
        saved = {var: os.environ.get(var) for var in BLAS_THREAD_VARS}
        os.environ.update({var: "1" for var in BLAS_THREAD_VARS})
        try:
            import numpy  # noqa: F401
        finally:  # the library read them at load; the agent's other child programs keep the user's values
            for var, value in saved.items():
                if value is None:
                    os.environ.pop(var, None)
                else:
                    os.environ[var] = value
    import numpy

    if _blas_limiter is None:
        try:
            from threadpoolctl import threadpool_limits
            _blas_limiter = threadpool_limits(1, user_api="blas")
        except Exception:  # noqa: BLE001 - optional: the environment variables did the job before the import
            _blas_limiter = False
    return numpy


def blas_info() -> dict[str, Any]:
    """The BLAS numpy uses and its thread count, for the journal (empty when threadpoolctl is not installed)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return {}
    load_numpy()
    for entry in threadpool_info():
        if entry.get("user_api") == "blas":
            return {k: entry.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
    return {}


def _crc32c() -> Callable[[bytes, int], int]:
    try:
        import crc32c
        return crc32c.crc32c
    except ImportError:
        return zlib.crc32


def crc32c_is_hardware() -> bool | None:
    try:
        import crc32c
    except ImportError:
        return None
    return bool(getattr(crc32c, "hardware_based", False))


def digest(raw: Any) -> str:
    """A short text that changes with any bit of a buffer: CRC32C (every single-bit error changes a CRC) and size."""
    crc = _crc32c()
    if isinstance(raw, (list, tuple)):
        value, size = 0, 0
        for part in raw:
            data = memoryview(part).cast("B") if not isinstance(part, (bytes, bytearray)) else part
            value = crc(data, value)
            size += len(data)
        return f"{value:08x}/{size}"
    data = memoryview(raw).cast("B") if not isinstance(raw, (bytes, bytearray)) else raw
    return f"{crc(data, 0):08x}/{len(data)}"


# -- inputs -------------------------------------------------------------------------------------------
def make_arrays(seed: int, names) -> dict[str, Any]:
    """The numpy inputs the selected kernels need (none when no numpy kernel is selected)."""
    wanted = {n for n in names if n in NUMPY_KERNELS}
    if not wanted:
        return {}
    np = load_numpy()
    rng = np.random.Generator(np.random.PCG64(seed))
    arrays: dict[str, Any] = {}
    for dtype, cache_n, memory_n, tag in (("float64", DGEMM_CACHE_N, DGEMM_MEMORY_N, "f64"),
                                          ("float32", SGEMM_CACHE_N, SGEMM_MEMORY_N, "f32")):
        if f"gemm-{tag}-cache" in wanted:
            arrays[f"{tag}-cache"] = tuple(rng.uniform(-1, 1, (cache_n, cache_n)).astype(dtype) for _ in range(2))
        if f"gemm-{tag}-memory" in wanted:
            arrays[f"{tag}-memory"] = tuple(
                rng.uniform(-1, 1, (memory_n, memory_n)).astype(dtype) for _ in range(2))
    if "fft-cache" in wanted:
        arrays["fft-cache"] = rng.uniform(-1, 1, FFT_CACHE_N) + 1j * rng.uniform(-1, 1, FFT_CACHE_N)
    if "fft-memory" in wanted:
        arrays["fft-memory"] = rng.uniform(-1, 1, FFT_MEMORY_N) + 1j * rng.uniform(-1, 1, FFT_MEMORY_N)
    return arrays


# -- kernels (each returns raw buffers; the engine digests them) --------------------------------------
def _gemm_cache(tag: str):
    def kernel(inp) -> Any:
        np = load_numpy()
        a, b = inp.arrays[f"{tag}-cache"]
        out = np.empty_like(a)
        results = []
        for i in range(CACHE_REPEATS):
            np.matmul(a, b, out=out)
            if i % 20 == 19:  # every result is different memory: a flip in any product shows in the digest
                results.append(out.copy())
        results.append(out)
        return results
    return kernel


def _gemm_memory(tag: str):
    def kernel(inp) -> Any:
        np = load_numpy()
        a, b = inp.arrays[f"{tag}-memory"]
        return np.matmul(a, b)
    return kernel


def fft_cache(inp) -> Any:
    """96 chained round trips through the FFT (a unit-modulus factor in between): any wrong bit carries on."""
    np = load_numpy()
    x = inp.arrays["fft-cache"]
    for _ in range(96):
        x = np.fft.ifft(np.fft.fft(x) * (0.6 + 0.8j))
    return x


def fft_memory(inp) -> Any:
    np = load_numpy()
    return np.fft.fft(inp.arrays["fft-memory"])


def _aes_key_nonce(inp) -> tuple[bytes, bytes]:
    return inp.random_bytes[:32], inp.random_bytes[32:44]


def aes_gcm(inp) -> Any:
    """AES-256-GCM (AES-NI and carry-less multiply where OpenSSL has them): 24 chained encryptions of 4 MiB, each
    of the previous ciphertext, so a wrong bit anywhere reaches the last one; the result is it and every tag."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    key, nonce = _aes_key_nonce(inp)
    aead = AESGCM(key)
    data, tags = inp.random_bytes[:AES_BUFFER], []
    for _ in range(AES_REPEATS):
        sealed = aead.encrypt(nonce, data, None)
        data = sealed[:-16]
        tags.append(sealed[-16:])
    return [data, b"".join(tags)]


def aes_ctr(inp) -> Any:
    """AES-256-CTR: 24 chained encryptions of 4 MiB into one buffer."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    key, nonce = _aes_key_nonce(inp)
    counter = nonce + b"\0\0\0\1"
    data = bytearray(inp.random_bytes[:AES_BUFFER])
    out = bytearray(AES_BUFFER + 15)
    for _ in range(AES_REPEATS):
        size = Cipher(algorithms.AES(key), modes.CTR(counter)).encryptor().update_into(data, out)
        data[:] = out[:size]
    return data


def crc32c_kernel(inp) -> str:
    """CRC32C (SSE4.2 `crc32` / ARMv8 CRC32 instructions) over 128 x 4 MiB, chained."""
    import crc32c
    value = 0
    for _ in range(CRC_REPEATS):
        value = crc32c.crc32c(inp.random_bytes, value)
    return f"{value:08x}"


NUMPY_KERNELS: dict[str, Callable[[Any], Any]] = {
    "gemm-f64-cache": _gemm_cache("f64"),
    "gemm-f64-memory": _gemm_memory("f64"),
    "gemm-f32-cache": _gemm_cache("f32"),
    "gemm-f32-memory": _gemm_memory("f32"),
    "fft-cache": fft_cache,
    "fft-memory": fft_memory,
}
AES_KERNELS = {"aes-gcm": aes_gcm, "aes-ctr": aes_ctr}
LIBRARY_OF = {**{k: "numpy" for k in NUMPY_KERNELS}, **{k: "cryptography" for k in AES_KERNELS},
              "crc32c": "crc32c"}


def flops(name: str) -> float:
    """Floating-point operations of one call of a GEMM kernel (2 n^3 per product), 0 for the others."""
    for tag, cache_n, memory_n in (("f64", DGEMM_CACHE_N, DGEMM_MEMORY_N), ("f32", SGEMM_CACHE_N, SGEMM_MEMORY_N)):
        if name == f"gemm-{tag}-cache":
            return 2.0 * cache_n ** 3 * CACHE_REPEATS
        if name == f"gemm-{tag}-memory":
            return 2.0 * memory_n ** 3
    return 0.0


def missing_library(name: str) -> str | None:
    """Why kernel `name` cannot run here (its library is not installed, or cannot load on this CPU), or None."""
    library = LIBRARY_OF.get(name)
    if library is None:
        return None
    import importlib.util
    if importlib.util.find_spec(library) is None:
        return f"the Python package {library!r} is not installed"
    return import_problem(library)


@functools.lru_cache(maxsize=None)
def import_problem(library: str) -> str | None:
    """Whether `library` loads on this CPU, tried once in a child interpreter: a wheel built for a newer
    instruction set (numpy 2 needs x86-64-v2: SSE4.2, POPCNT) dies of SIGILL at import, which would take the
    whole module process with it."""
    from burnin.host import Host

    result = Host("/").run([sys.executable, "-c", f"import {library}"], timeout=120)
    if result.ok:
        return None
    if result.returncode is not None and result.returncode < 0:
        try:
            died = signal.Signals(-result.returncode).name
        except ValueError:
            died = f"signal {-result.returncode}"
        return (f"importing {library} kills the process on this CPU ({died}): the installed build needs "
                "instructions this CPU does not have")
    tail = (result.stderr.strip().splitlines() or [result.error or "no output"])[-1]
    return f"{library} cannot be imported here: {tail[:200]}"
