"""GPU: every NVIDIA (NVML or `nvidia-smi -q -x`) and AMD (amdgpu sysfs) GPU checked before load, burned in with
verified results, sampled every second, and named by PCI address, slot and serial in every finding.

Before load (also on a capture): memory errors by NVIDIA's RMA rules ("GPU Memory Error Management": the row-remap
failure flag, set after 8 uncorrectable rows in a bank or 512 in all), retired pages, ECC, NVLink, AMD bad pages,
claims. Load, in order: DCGM (`dcgmi diag -r LEVEL`, per test and GPU), gpu-burn (OK/FAULTY lines, never its exit
code), the built-in CuPy kernel (checked across GPUs and with the CPU); none: only watched, and a finding says so.
Every second: temperature, power, clocks, utilisation, throttling, PCIe link (judged under load only: idle GPUs slow
it), error counters (growth). Xid lines: `kernel-log`'s `xid` table (each Xid's meaning, the GPU's slot).

| code | severity | when |
|---|---|---|
| `gpu-row-remap-failure` / `gpu-remapped-rows` | FAIL / FAIL or WARN | the row-remap failure flag (NVIDIA's RMA criterion) / uncorrectable remapped rows: `remap_uncorrectable_fail` (512) or more FAIL, fewer WARN |
| `gpu-remap-pending` / `gpu-remap-banks-exhausted` | WARN (settings `remap_pending`, `banks_exhausted`) | a row remap waits for a reset (a recent uncorrectable error) / banks with no spare row left |
| `gpu-retired-pages-pending` / `gpu-retired-pages` | FAIL (setting `pending_retirement`) / FAIL or WARN | a page waits to be retired (pre-Ampere) / `retired_pages_fail` (60 of at most 64) retired pages FAIL, a double-bit one WARNs |
| `gpu-ecc-uncorrectable` / `gpu-ecc-uncorrectable-history` | FAIL / WARN (setting `aggregate_uncorrectable`) | uncorrectable ECC errors since the driver loaded (or the SRAM threshold flag) / in the GPU's lifetime |
| `gpu-ecc-disabled` / `gpu-nvlink-down` | WARN (setting `ecc_disabled`) / WARN | ECC is off: memory errors go unseen / NVLink links down while the GPU's others are up |
| `gpu-errors-grew` | FAIL / WARN | uncorrectable counters grew during the run / corrected ones (setting `corrected`), PCIe replays, NVLink |
| `gpu-link-degraded` / `gpu-throttled` | FAIL / WARN (settings `link_under_load`, `throttle`) | under load: a PCIe link below what GPU and slot allow / thermal or power-brake slowdown (dead fan, dried paste, PSU) |
| `gpu-dcgm-fail` / `gpu-dcgm-warn` | FAIL / WARN | a DCGM diagnostic test failed or warned on the GPU |
| `gpu-burn-faulty` | FAIL | gpu-burn reported the GPU FAULTY (wrong results), whatever its exit code |
| `gpu-compute-mismatch` | FAIL | the built-in kernel's result differed from the other GPUs' or the CPU's |
| `gpu-engine-error` / `gpu-no-load` | WARN (setting `no_load`) | an engine gave no result / no GPU load ran (no DCGM, gpu-burn or CuPy): only watched |
| `gpu-missing` | FAIL | a GPU seen before the run is gone after it (fell off the bus) |
| `gpu-bad-pages` / `gpu-ras-uncorrectable` | FAIL or WARN / FAIL | AMD: bad pages at the driver's limit (else WARN) / uncorrectable RAS errors |
| `claim-mismatch` / `claim-match` | FAIL / INFO | GPU model and memory against the claims (`[gpus] model`, `memory_gib`) |

No NVIDIA driver and no amdgpu card: unavailable. Engines present and none gave a result: ERROR, never a pass.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from burnin.inventory.claims import check_gpu_claims
from burnin.judge import Reported, counter_growth
from burnin.load import ProgramLoad, ThreadLoad, drive
from burnin.model import Judgement, Probe, Severity
from burnin.module import Module, ModuleContext, Skip
from burnin.settings import setting
from burnin.tools import amdgpu, cupy_matmul, dcgm, gpu_burn, nvidia_nvml, nvidia_smi
from burnin.tools.nvidia_smi import NvidiaGpu

FAIL, WARN, SEVERITIES = Severity.FAIL, Severity.WARN, ("fail", "warn", "info")
UNCORRECTABLE = ("ecc_volatile_uncorrectable", "remapped_rows_uncorrectable", "retired_pages_dbe")
BAD_THROTTLE = ("hw_slowdown", "hw_thermal_slowdown", "hw_power_brake_slowdown", "sw_thermal_slowdown")


@dataclass(frozen=True)
class GpuSettings:
    engines: tuple[str, ...] = setting(("dcgm", "gpu-burn", "builtin"), "GPU load engines, in this order")
    dcgm_level: int = setting(2, "dcgmi diag level: 1 (seconds), 2 (about 2 min), 3 (about 15 min)")
    remap_uncorrectable_fail: int = setting(512, "uncorrectable remapped rows that FAIL (NVIDIA: 512)", unit="rows")
    retired_pages_fail: int = setting(60, "retired pages at which a GPU FAILs (pre-Ampere; 64 at most)", unit="pages")
    remap_pending: str = setting("warn", "severity of a row remap waiting for a reset", choices=SEVERITIES)
    banks_exhausted: str = setting("warn", "severity of memory banks with no spare row left", choices=SEVERITIES)
    pending_retirement: str = setting("fail", "severity of a page waiting to be retired", choices=SEVERITIES)
    aggregate_uncorrectable: str = setting("warn", "severity of lifetime uncorrectable ECC errors", choices=SEVERITIES)
    ecc_disabled: str = setting("warn", "severity of a GPU with ECC switched off", choices=SEVERITIES)
    corrected: str = setting("warn", "severity of corrected/PCIe/NVLink errors in the run", choices=SEVERITIES)
    link_under_load: str = setting("fail", "severity of a PCIe link below GPU and slot under load", choices=SEVERITIES)
    load_util_pct: float = setting(50.0, "utilisation from which a GPU counts as under load (link judging)", unit="%")
    throttle: str = setting("warn", "severity of thermal or power-brake slowdown under load", choices=SEVERITIES)
    no_load: str = setting("warn", "severity when no GPU load engine is present", choices=SEVERITIES)
    builtin_n: int = setting(2048, "matrix size of the built-in verified kernel")
    interval_s: float = setting(1.0, "how often every GPU is sampled", unit="s")


def describe(gpu: Any, slot: str | None) -> tuple[str, str, dict[str, Any]]:
    """(component, words, evidence) naming one GPU by PCI address, model, slot and serial."""
    serial = getattr(gpu, "serial", None) or getattr(gpu, "unique_id", None)
    words = ", ".join(w for w in (gpu.name, slot and f"slot {slot}", serial and f"S/N {serial}") if w)
    ident = {"pci": gpu.pci, "slot": slot, "serial": serial, "name": gpu.name, "uuid": getattr(gpu, "uuid", None)}
    return f"gpu:{gpu.pci}", f"GPU {gpu.pci}" + (f" ({words})" if words else ""), ident


def judge_health(gpu: NvidiaGpu, s: GpuSettings, slot: str | None = None) -> list[Judgement]:
    """What an NVIDIA GPU's memory-error state says before any load (NVIDIA's RMA rules, the profile's thresholds)."""
    comp, who, ident = describe(gpu, slot)
    out: list[Judgement] = []

    def add(sev: Severity | str, code: str, what: str, **raw: Any) -> None:
        out.append(Judgement(Severity(sev), comp, code, f"{who} {what}", {**ident, **raw}))

    unc = gpu.remapped_rows_uncorrectable or 0
    if gpu.remap_failure:
        add(FAIL, "gpu-row-remap-failure", "has its row-remap failure flag set: its memory has run out of spare rows"
            " (NVIDIA's RMA criterion).", remapped_uncorrectable=unc, histogram=gpu.remap_histogram)
    if unc:
        add(FAIL if unc >= s.remap_uncorrectable_fail else WARN, "gpu-remapped-rows",
            f"has {unc} memory rows remapped for uncorrectable errors.", remapped_uncorrectable=unc,
            remapped_correctable=gpu.remapped_rows_correctable, fail_at=s.remap_uncorrectable_fail)
    if gpu.remap_pending:
        add(s.remap_pending, "gpu-remap-pending", "has a row remap waiting for a GPU reset (a recent uncorrectable "
            "memory error).", remapped_uncorrectable=unc)
    if gpu.remap_histogram.get("none"):
        add(s.banks_exhausted, "gpu-remap-banks-exhausted", f"has {gpu.remap_histogram['none']} memory bank(s) with no "
            "spare row left.", histogram=gpu.remap_histogram)
    if gpu.retirement_pending:
        add(s.pending_retirement, "gpu-retired-pages-pending", "has memory pages waiting to be retired (an "
            "uncorrectable error or repeated corrected ones).", dbe=gpu.retired_pages_dbe, sbe=gpu.retired_pages_sbe)
    retired = (gpu.retired_pages_dbe or 0) + (gpu.retired_pages_sbe or 0)
    if retired >= s.retired_pages_fail or gpu.retired_pages_dbe:
        add(FAIL if retired >= s.retired_pages_fail else WARN, "gpu-retired-pages",
            f"has {retired} retired memory pages ({gpu.retired_pages_dbe or 0} for double-bit errors).",
            dbe=gpu.retired_pages_dbe, sbe=gpu.retired_pages_sbe, fail_at=s.retired_pages_fail)
    if gpu.ecc_volatile_uncorrectable or gpu.sram_threshold_exceeded:
        add(FAIL, "gpu-ecc-uncorrectable", f"had {gpu.ecc_volatile_uncorrectable or 0} uncorrectable ECC errors since "
            "the driver loaded" + (" and exceeded NVIDIA's SRAM error threshold." if gpu.sram_threshold_exceeded
                                   else "."), volatile=gpu.ecc_volatile_uncorrectable,
            aggregate=gpu.ecc_aggregate_uncorrectable, sram_threshold_exceeded=gpu.sram_threshold_exceeded)
    elif gpu.ecc_aggregate_uncorrectable:
        add(s.aggregate_uncorrectable, "gpu-ecc-uncorrectable-history", f"counted {gpu.ecc_aggregate_uncorrectable} "
            "uncorrectable ECC errors in its lifetime.", aggregate=gpu.ecc_aggregate_uncorrectable)
    if gpu.ecc_mode == "Disabled":
        add(s.ecc_disabled, "gpu-ecc-disabled", "runs with ECC switched off: its memory errors cannot be seen.")
    if gpu.nvlinks_down:
        add(WARN, "gpu-nvlink-down", f"has NVLink links {list(gpu.nvlinks_down)} down.", links=list(gpu.nvlinks_down))
    return out


def judge_sample(gpu: NvidiaGpu, s: GpuSettings, slot: str | None = None) -> list[Judgement]:
    """A reading taken under load (utilisation at `load_util_pct` or more): the PCIe link and slowdowns."""
    if gpu.util_pct is None or gpu.util_pct < s.load_util_pct:
        return []
    (comp, who, ident), out = describe(gpu, slot), []
    link = {k: getattr(gpu, k) for k in ("link_gen", "link_gen_max", "link_width", "link_width_max", "util_pct")}
    if (gpu.link_gen and gpu.link_gen_max and gpu.link_gen < gpu.link_gen_max) or (
            gpu.link_width and gpu.link_width_max and gpu.link_width < gpu.link_width_max):
        out.append(Judgement(Severity(s.link_under_load), comp, "gpu-link-degraded", f"{who} runs its PCIe link at "
                             f"Gen{gpu.link_gen} x{gpu.link_width} under load where GPU and slot allow "
                             f"Gen{gpu.link_gen_max} x{gpu.link_width_max}.", {**ident, **link}))
    bad = [r for r in gpu.throttle if r in BAD_THROTTLE]
    if bad:
        out.append(Judgement(Severity(s.throttle), comp, "gpu-throttled", f"{who} slowed down under load: "
                             f"{', '.join(bad)} at {gpu.temp_c} °C.", {**ident, "reasons": bad, "temp_c": gpu.temp_c,
                                                                     "power_w": gpu.power_w}))
    return out


def judge_growth(before: dict[str, Any], after: dict[str, Any], s: GpuSettings,
                 slots: dict[str, str | None]) -> list[Judgement]:
    """Counters that grew between two readings (NvidiaGpu or AmdGpu by PCI address), and GPUs that vanished."""
    out = []
    for pci, old in sorted(before.items()):
        (comp, who, ident), new = describe(old, slots.get(pci)), after.get(pci)
        if new is None:
            out.append(Judgement(FAIL, comp, "gpu-missing", f"{who} was there before the run and is gone after it.",
                                 ident))
            continue
        grown = counter_growth(old.counters(), new.counters())
        bad = {k: v for k, v in grown.items() if k in UNCORRECTABLE or k.endswith("_ue") or k == "bad_pages"}
        if grown:
            out.append(Judgement(FAIL if bad else Severity(s.corrected), comp, "gpu-errors-grew", f"{who} counted "
                                 + ", ".join(f"{k} +{v}" for k, v in grown.items()) + " during the run.",
                                 {**ident, "grown": grown}))
    return out


def judge_amd(gpu: amdgpu.AmdGpu, slot: str | None = None) -> list[Judgement]:
    comp, who, ident = describe(gpu, slot)
    out, limit, ue = [], gpu.bad_page_threshold, {b: c["ue"] for b, c in gpu.ras.items() if c.get("ue")}
    if gpu.bad_pages:
        out.append(Judgement(FAIL if limit is not None and gpu.bad_pages >= limit else WARN, comp, "gpu-bad-pages",
                             f"{who} has {gpu.bad_pages} retired VRAM pages ({gpu.bad_pages_pending} pending; the "
                             f"driver's limit is {limit}).", {**ident, "bad_pages": gpu.bad_pages, "limit": limit}))
    if ue:
        out.append(Judgement(FAIL, comp, "gpu-ras-uncorrectable", f"{who} counted uncorrectable errors: "
                             + ", ".join(f"{b} {n}" for b, n in ue.items()) + ".", {**ident, "ras": gpu.ras}))
    return out


def judge_engine(engine: str, outcome: Any, gpus: list[NvidiaGpu], slots: dict[str, str | None]) -> list[Judgement]:
    """DCGM's per-GPU results, gpu-burn's OK/FAULTY lines (GPU ids and CUDA devices in PCI order) and the built-in
    kernel's mismatches, each naming its GPU."""
    rows = ([(r.gpu, r.status, f"{r.category} / {r.test}: {r.detail}") for r in outcome.results] if engine == "dcgm"
            else [(i, "fail" if v == "FAULTY" else "pass", f"gpu-burn: {v}") for i, v in outcome.tested.items()]
            if engine == "gpu-burn" else [(pci, "fail", "; ".join(why)) for pci, why in outcome.wrong])
    out, by_key = [], {**{g.pci: g for g in gpus}, **dict(enumerate(gpus))}
    for index, status, detail in (r for r in rows if r[1] in ("fail", "warn")):
        gpu = by_key.get(index)
        comp, who, ident = describe(gpu, slots.get(gpu.pci)) if gpu else ("gpu", f"GPU {index}", {"index": index})
        code = {"gpu-burn": "gpu-burn-faulty", "builtin": "gpu-compute-mismatch"}.get(engine, f"gpu-dcgm-{status}")
        out.append(Judgement(FAIL if status == "fail" else WARN, comp, code, f"{who} {status}ed under {engine}: "
                             f"{detail[:300]}", {**ident, "engine": engine, "device_index": index, "detail": detail}))
    return out


class GpuModule(Module):
    name = "gpu"
    summary = "every GPU: memory errors against NVIDIA's RMA rules, DCGM / gpu-burn / CuPy load, 1 Hz watch"
    needs = ("NVIDIA driver (NVML via nvidia-ml-py, or nvidia-smi) or amdgpu", "dcgmi, gpu_burn or CuPy for load")
    stress = True
    judges_captures = True  # check() and finish() judge a capture's nvidia-smi XML and amdgpu sysfs
    Settings = GpuSettings

    def __init__(self, host, settings=None):
        super().__init__(host, settings)
        self.before, self.slots, self.reported, self.nvml = {}, {}, Reported(), None

    def probe(self) -> Probe:
        if self.host.which("nvidia-smi") or (self.host.live and nvidia_nvml.available() is None) \
                or amdgpu.read_gpus(self.host):
            return Probe.ok()
        return Probe.unavailable("no NVIDIA driver (nvidia-smi, NVML) and no amdgpu card")

    def read(self, ctx: ModuleContext, journal: bool = False) -> dict[str, Any]:
        """Every GPU by PCI address: NVML when it answers (fast), else nvidia-smi's XML (journaled once, captured)."""
        gpus: list[Any] = []
        if self.nvml is None:
            self.nvml = self.host.live and nvidia_nvml.available() is None
        if not journal and self.nvml:
            gpus = nvidia_nvml.read_gpus()
        elif self.host.which("nvidia-smi"):
            result = (ctx.run_tool if journal else self.host.run)(nvidia_smi.XML_ARGV, timeout=60)
            if result.ok:
                gpus = nvidia_smi.parse_xml(result.stdout)
            elif nvidia_smi.on_the_bus(self.host):  # an NVIDIA GPU its driver does not answer for: not tested
                raise RuntimeError(f"nvidia-smi -q -x failed: {(result.error or result.stdout + result.stderr)[-200:]}")
        return {g.pci: g for g in [*gpus, *amdgpu.read_gpus(self.host)]}

    def emit(self, ctx: ModuleContext, judgements: list[Judgement]) -> None:
        for j in judgements:
            if self.reported.should_report(j):
                ctx.report(j)

    def check(self, ctx: ModuleContext) -> None:
        self.slots = {d.address: d.slot for d in getattr(getattr(ctx.inventory, "pcie", None), "devices", ()) or ()}
        self.before = self.read(ctx, journal=True)
        if not self.before:
            raise Skip("nvidia-smi and amdgpu list no GPU")
        ctx.note("GPUs", gpus={p: nvidia_smi.as_record(g) for p, g in self.before.items()})
        for g in self.before.values():
            slot = self.slots.get(g.pci)
            self.emit(ctx, judge_health(g, self.settings, slot) if isinstance(g, NvidiaGpu) else judge_amd(g, slot))
            if isinstance(g, NvidiaGpu) and not self.host.live:  # a capture's link counts when taken under load
                self.emit(ctx, judge_sample(g, self.settings, slot))
        for f in [c.finding() for c in check_gpu_claims(ctx.claims, list(self.before.values()))]:
            ctx.finding(f.severity, f.component, f.code, f.message, f.evidence)
        self.before = self.read(ctx) if self.nvml else self.before  # growth is judged in the samples' own source

    def sample(self, ctx: ModuleContext) -> None:
        now = self.read(ctx)
        ctx.sample({k: v for g in now.values() if isinstance(g, NvidiaGpu) for k, v in g.metrics().items()})
        for g in now.values():
            if isinstance(g, NvidiaGpu):
                self.emit(ctx, judge_sample(g, self.settings, self.slots.get(g.pci)))
        self.emit(ctx, judge_growth(self.before, now, self.settings, self.slots))

    def engine_load(self, engine: str, seconds: float) -> tuple[Any, Any]:
        """(load, how its outcome is read) for one engine that is present."""
        if engine == "builtin":
            load, result = cupy_matmul.load(self.settings.builtin_n)
            return load, lambda: result
        burn = os.path.dirname(str(self.host.which("gpu_burn")))  # gpu_burn reads its compare.ptx from there
        program = dcgm.program(self.settings.dcgm_level) if engine == "dcgm" else dataclasses.replace(
            gpu_burn.program(max(10, int(seconds * 0.9) - 10)), cwd=burn, env={"CUDA_DEVICE_ORDER": "PCI_BUS_ID"})
        load = ProgramLoad(self.host, program)
        return load, lambda: load.outcome

    def run(self, ctx: ModuleContext) -> None:
        nvidia = sorted((g for g in self.before.values() if isinstance(g, NvidiaGpu)), key=lambda g: g.pci)
        present = {"dcgm": self.host.which("dcgmi") and self.settings.dcgm_level > 0, "builtin": cupy_matmul
                   .cupy_missing() is None, "gpu-burn": self.host.which("gpu_burn")}
        wanted = [e for e in self.settings.engines if nvidia and present.get(e)]
        for skipped in sorted(set(self.settings.engines) - set(wanted)):
            ctx.note(f"GPU engine {skipped} is not available here", engine=skipped)
        gave = 0
        for n, engine in enumerate(wanted):
            if ctx.stopping():
                break
            share = ctx.remaining() if engine == "dcgm" else ctx.remaining() / (len(wanted) - n)
            load, outcome = self.engine_load(engine, share)
            drive(ctx, [load], until=None if engine == "dcgm" else time.monotonic() + share,
                  interval_s=self.settings.interval_s, sample=lambda *_: self.sample(ctx), engine=engine)
            result = outcome()
            if any(getattr(result, key, None) for key in ("results", "tested", "rounds")):
                gave += 1
                self.emit(ctx, judge_engine(engine, result, nvidia, self.slots))
            else:  # stopped at the end of the run before it reported, or failed to run
                self.emit(ctx, [Judgement(WARN, f"gpu:{engine}", "gpu-engine-error", f"{engine} gave no result.",
                                          {"engine": engine, "outcome": repr(result)[-500:]})])
        if wanted and not gave and not (ctx.stopping() and time.monotonic() < ctx.deadline):  # not a Ctrl-C
            raise RuntimeError("no GPU engine gave a result: " + ", ".join(wanted))
        if not wanted:
            self.emit(ctx, [Judgement(Severity(self.settings.no_load), "gpu", "gpu-no-load", "No GPU load ran (no "
                                      "DCGM, gpu-burn or CuPy here): the GPUs were only watched.", {})])
        while not ctx.stopping():
            self.sample(ctx)
            ctx.wait(self.settings.interval_s)

    def finish(self, ctx: ModuleContext) -> None:
        if not self.before:
            raise Skip("no GPU was read before the run")
        self.emit(ctx, judge_growth(self.before, self.read(ctx), self.settings, self.slots))
