"""NVIDIA GPUs through NVML (the `nvidia-ml-py` package, module `pynvml`): the same `NvidiaGpu` records that
`nvidia-smi -q -x` gives, read in milliseconds, so the GPUs can be sampled every second.

pynvml is imported only when called (it is a ctypes wrapper that needs the driver's libnvidia-ml.so.1 at run time).
A query a GPU does not support raises NVMLError: that value is None, never 0. CUDA numbers devices in PCI order here
(the gpu module sets CUDA_DEVICE_ORDER=PCI_BUS_ID for gpu-burn), as NVML and DCGM do. Never judges.
"""

from __future__ import annotations

from typing import Any, Callable

from burnin.tools.nvidia_smi import NvidiaGpu, normalise_pci

_THROTTLE_NAMES = {0x4: "sw_power_cap", 0x8: "hw_slowdown", 0x10: "sync_boost", 0x20: "sw_thermal_slowdown",
                   0x40: "hw_thermal_slowdown", 0x80: "hw_power_brake_slowdown"}


def available() -> str | None:
    """None when NVML answers; else why not (package missing, no driver)."""
    try:
        import pynvml
    except ImportError:
        return "nvidia-ml-py (pynvml) is not installed"
    try:
        pynvml.nvmlInit()
    except Exception as exc:  # noqa: BLE001 - NVMLError_LibraryNotFound, _DriverNotLoaded, ...
        return f"NVML did not start: {exc}"
    return None


def _get(call: Callable[..., Any], *args: Any) -> Any:
    try:
        value = call(*args)
    except Exception:  # noqa: BLE001 - NVMLError_NotSupported and friends: unknown, not zero
        return None
    return value.decode() if isinstance(value, bytes) else value


def read_gpus() -> list[NvidiaGpu]:
    """Every GPU NVML sees (nvmlInit must have succeeded: `available()`)."""
    import pynvml as n

    driver = _get(n.nvmlSystemGetDriverVersion)
    return [read_gpu(n, n.nvmlDeviceGetHandleByIndex(i), driver) for i in range(n.nvmlDeviceGetCount())]


def read_gpu(n: Any, h: Any, driver: str | None = None) -> NvidiaGpu:
    pci = _get(n.nvmlDeviceGetPciInfo, h)
    memory = _get(n.nvmlDeviceGetMemoryInfo, h)
    ecc = _get(n.nvmlDeviceGetEccMode, h)
    remap = _get(n.nvmlDeviceGetRemappedRows, h)
    hist = _get(n.nvmlDeviceGetRowRemapperHistogram, h)
    util = _get(n.nvmlDeviceGetUtilizationRates, h)
    power, limit = _get(n.nvmlDeviceGetPowerUsage, h), _get(n.nvmlDeviceGetEnforcedPowerLimit, h)
    reasons = _get(getattr(n, "nvmlDeviceGetCurrentClocksEventReasons", n.nvmlDeviceGetCurrentClocksThrottleReasons), h)
    gen_gpu, gen_slot = _get(n.nvmlDeviceGetGpuMaxPcieLinkGeneration, h), _get(n.nvmlDeviceGetMaxPcieLinkGeneration, h)

    def ecc_total(kind: int, scope: int) -> int | None:
        return _get(n.nvmlDeviceGetTotalEccErrors, h, kind, scope) if ecc and ecc[0] else None

    def retired(cause: int) -> int | None:
        pages = _get(n.nvmlDeviceGetRetiredPages, h, cause)
        return None if pages is None else len(pages)

    links = [(link, _get(n.nvmlDeviceGetNvLinkState, h, link)) for link in range(n.NVML_NVLINK_MAX_LINKS)]
    active = [link for link, state in links if state == n.NVML_FEATURE_ENABLED]
    errors = [_get(n.nvmlDeviceGetNvLinkErrorCounter, h, link, counter) for link in active
              for counter in (n.NVML_NVLINK_ERROR_DL_REPLAY, n.NVML_NVLINK_ERROR_DL_RECOVERY,
                              n.NVML_NVLINK_ERROR_DL_CRC_FLIT, n.NVML_NVLINK_ERROR_DL_CRC_DATA)]
    corrected, uncorrected = n.NVML_MEMORY_ERROR_TYPE_CORRECTED, n.NVML_MEMORY_ERROR_TYPE_UNCORRECTED
    return NvidiaGpu(
        pci=normalise_pci(pci.busId.decode() if pci is not None and isinstance(pci.busId, bytes)
                          else getattr(pci, "busId", "")),
        name=_get(n.nvmlDeviceGetName, h), serial=_get(n.nvmlDeviceGetSerial, h), uuid=_get(n.nvmlDeviceGetUUID, h),
        vbios=_get(n.nvmlDeviceGetVbiosVersion, h), driver=driver,
        memory_total_mib=memory.total / 2**20 if memory else None,
        memory_used_mib=memory.used / 2**20 if memory else None,
        ecc_mode=None if ecc is None else ("Enabled" if ecc[0] else "Disabled"),
        ecc_volatile_correctable=ecc_total(corrected, n.NVML_VOLATILE_ECC),
        ecc_volatile_uncorrectable=ecc_total(uncorrected, n.NVML_VOLATILE_ECC),
        ecc_aggregate_correctable=ecc_total(corrected, n.NVML_AGGREGATE_ECC),
        ecc_aggregate_uncorrectable=ecc_total(uncorrected, n.NVML_AGGREGATE_ECC),
        retired_pages_sbe=retired(n.NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS),
        retired_pages_dbe=retired(n.NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR),
        retirement_pending=_flag(_get(n.nvmlDeviceGetRetiredPagesPendingStatus, h)),
        remapped_rows_correctable=remap[0] if remap else None, remapped_rows_uncorrectable=remap[1] if remap else None,
        remap_pending=_flag(remap[2]) if remap else None, remap_failure=_flag(remap[3]) if remap else None,
        remap_histogram={k: getattr(hist, k) for k in ("max", "high", "partial", "low", "none")} if hist else {},
        link_gen=_get(n.nvmlDeviceGetCurrPcieLinkGeneration, h),
        link_gen_max=min(gen_gpu, gen_slot) if gen_gpu and gen_slot else gen_slot,
        link_width=_get(n.nvmlDeviceGetCurrPcieLinkWidth, h), link_width_max=_get(n.nvmlDeviceGetMaxPcieLinkWidth, h),
        pcie_replays=_get(n.nvmlDeviceGetPcieReplayCounter, h),
        nvlink_errors=sum(e for e in errors if e is not None) if active else None,
        nvlinks_down=tuple(link for link, state in links if state == n.NVML_FEATURE_DISABLED and active),
        throttle=tuple(name for bit, name in _THROTTLE_NAMES.items() if reasons and reasons & bit),
        fan_pct=_get(n.nvmlDeviceGetFanSpeed, h), temp_c=_get(n.nvmlDeviceGetTemperature, h, n.NVML_TEMPERATURE_GPU),
        temp_slowdown_c=_get(n.nvmlDeviceGetTemperatureThreshold, h, n.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN),
        power_w=power / 1000 if power is not None else None, power_limit_w=limit / 1000 if limit is not None else None,
        util_pct=util.gpu if util is not None else None,
        sm_clock_mhz=_get(n.nvmlDeviceGetClockInfo, h, n.NVML_CLOCK_SM),
    )


def _flag(value: Any) -> bool | None:
    return None if value is None else bool(value)
