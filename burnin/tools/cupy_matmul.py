"""The built-in verified GPU kernel: the same matrix product on every GPU, checked against each other and against
a CPU reference on a sample, through CuPy where it is importable.

Inputs are small integers (-3..3) from a seeded generator, so every product is an exact integer in float32 (at most
9 * n, far below 2**24): any two healthy GPUs give bit-identical results, and the CPU computes sampled entries
exactly in Python. A GPU whose digest differs from the others', or whose sampled entries differ from the CPU's,
computed wrong. The backend is an object with `devices()` and `matmul(...)`; CuPy's is `CupyBackend`, tests give
another. Never judges: `check_round` says which devices disagreed, the module decides.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

_TO_SMALL = bytes(((i % 7) - 3) & 0xFF for i in range(256))


class Backend(Protocol):
    def devices(self) -> list[tuple[int, str]]: ...  # (device index, PCI address)

    def matmul(self, device: int, a: bytes, b: bytes, n: int, rows: Sequence[int],
               cols: Sequence[int]) -> tuple[str, list[list[float]]]: ...  # (digest of C, C[rows][cols])


@dataclass(frozen=True)
class RoundResult:
    seed: int
    n: int
    digests: dict[int, str]
    wrong: dict[int, list[str]]  # device -> what was wrong ("digest differs from 3 other GPUs", "C[5][17] = ...")


def inputs(seed: int, n: int) -> tuple[bytes, bytes]:
    rng = random.Random(seed)
    return rng.randbytes(n * n).translate(_TO_SMALL), rng.randbytes(n * n).translate(_TO_SMALL)


def _s8(data: bytes, i: int) -> int:
    v = data[i]
    return v - 256 if v > 127 else v


def reference(a: bytes, b: bytes, n: int, row: int, cols: Sequence[int]) -> list[int]:
    arow = [_s8(a, row * n + k) for k in range(n)]
    return [sum(arow[k] * _s8(b, k * n + c) for k in range(n) if arow[k]) for c in cols]


def check_round(backend: Backend, devices: Sequence[int], seed: int, n: int, samples: int = 2) -> RoundResult:
    a, b = inputs(seed, n)
    rng = random.Random(seed ^ 0x5EED)
    rows = sorted(rng.sample(range(n), min(samples, n)))
    cols = sorted(rng.sample(range(n), min(64, n)))
    expected = [reference(a, b, n, r, cols) for r in rows]
    digests, wrong = {}, {}
    for device in devices:
        digest, got = backend.matmul(device, a, b, n, rows, cols)
        digests[device] = digest
        bad = [f"C[{r}][{c}] = {g:g}, the CPU says {e}" for r, gr, er in zip(rows, got, expected)
               for c, g, e in zip(cols, gr, er) if g != e]
        if bad:
            wrong[device] = bad[:5] + ([f"... {len(bad) - 5} more"] if len(bad) > 5 else [])
    common, votes = Counter(digests.values()).most_common(1)[0] if digests else ("", 0)
    if len(digests) > 2 and votes > len(digests) / 2:
        for device, digest in digests.items():
            if digest != common:
                wrong.setdefault(device, []).append(f"its result differs from {votes} other GPUs'")
    return RoundResult(seed, n, digests, wrong)


class CupyBackend:
    """CuPy on every CUDA device (imported here: CuPy is optional and heavy)."""

    def __init__(self) -> None:
        import cupy

        self.cp: Any = cupy

    def devices(self) -> list[tuple[int, str]]:
        cp = self.cp
        return [(d, cp.cuda.Device(d).pci_bus_id.lower()) for d in range(cp.cuda.runtime.getDeviceCount())]

    def matmul(self, device: int, a: bytes, b: bytes, n: int, rows: Sequence[int],
               cols: Sequence[int]) -> tuple[str, list[list[float]]]:
        cp = self.cp
        with cp.cuda.Device(device):
            c = (cp.frombuffer(a, dtype=cp.int8).astype(cp.float32).reshape(n, n)
                 @ cp.frombuffer(b, dtype=cp.int8).astype(cp.float32).reshape(n, n))
            host = cp.asnumpy(c)
        return hashlib.sha256(host.tobytes()).hexdigest(), host[list(rows)][:, list(cols)].tolist()


def cupy_missing() -> str | None:
    try:
        import cupy  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - ImportError, or CUDA libraries that fail to load
        return f"CuPy is not importable ({type(exc).__name__})"
    return None


@dataclass
class Outcome:
    """What the rounds found: (PCI address, what was wrong) per wrong device, rounds done, and the error that ended
    them (a CUDA error is not a pass)."""

    wrong: list[tuple[str, list[str]]]
    rounds: int = 0
    error: str | None = None


def load(n: int, backend: Backend | None = None) -> tuple[Any, Outcome]:
    """Rounds of `check_round` on every device until stopped, as a `ThreadLoad`, and the `Outcome` they fill."""
    import threading
    import time

    from burnin.load import ThreadLoad

    stop, outcome = threading.Event(), Outcome([])

    def work() -> None:
        seed = int(time.time())
        try:
            active = backend or CupyBackend()
            devices = dict(active.devices())
            while not stop.is_set():
                seed += 1
                result = check_round(active, list(devices), seed, n)
                outcome.wrong.extend((devices[d], why) for d, why in result.wrong.items())
                outcome.rounds += 1
        except Exception as exc:  # noqa: BLE001 - CUDA out of memory, a device lost: said, never a silent pass
            outcome.error = f"{type(exc).__name__}: {exc}"

    return ThreadLoad("builtin matrix kernel", threading.Thread(target=work, daemon=True), stop), outcome
