"""The disk module's profile settings: SMART thresholds, self-tests, the read scan, previous data, and the
destructive write-verify and wipe."""

from __future__ import annotations

from dataclasses import dataclass

from burnin.settings import setting


@dataclass(frozen=True)
class DiskSettings:
    # SMART judgement
    reallocated_fail: int = setting(50, "reallocated sectors (ATA 5) above this FAIL; any at all WARN", unit="sectors")
    grown_defects_fail: int = setting(50, "SAS grown-defect-list entries above this FAIL; any at all WARN",
                                      unit="defects")
    nvme_used_warn_pct: int = setting(90, "NVMe Percentage Used at or above this WARNs", unit="%")
    nvme_used_fail_pct: int = setting(100, "NVMe Percentage Used at or above this FAILs", unit="%")
    command_timeout_fail: int = setting(100, "command timeouts (ATA 188) above this FAIL; any at all WARN",
                                        unit="commands")
    reallocation_events_fail: int = setting(50, "reallocation events (ATA 196) above this FAIL; any at all WARN",
                                            unit="events")
    history_slack_h: int = setting(48, "two records of a drive's hours may differ this much before its history "
                                       "is called reset (or history_slack_pct, the larger)", unit="h")
    history_slack_pct: float = setting(2.0, "...or this share of the larger figure", unit="%")
    # self-tests (run phase)
    self_test: str = setting("short", "SMART self-test started on every drive in the run phase",
                             choices=("none", "short", "long"))
    self_test_poll_s: float = setting(30.0, "how often a running self-test's progress is read", unit="s")
    self_test_abort_on_stop: bool = setting(False, "abort our self-test when the run ends before it does")
    # read scan (run phase)
    scan: str = setting("sample", "read scan: none, sample (spread over the disk) or full (every byte)",
                        choices=("none", "sample", "full"))
    sample_mib: int = setting(1024, "bytes read per disk per pass of a sample scan", unit="MiB")
    sample_regions: int = setting(64, "regions a sample pass is spread over, first byte to last")
    region_mib: int = setting(256, "region size of a full scan (throughput is judged per region)", unit="MiB")
    read_block_kib: int = setting(1024, "size of one O_DIRECT read", unit="KiB")
    repeat_scan: bool = setting(True, "scan pass after pass (each shifted) until the run ends")
    slow_region_fraction: float = setting(0.2, "a region slower than this fraction of the disk's median is slow...")
    slow_region_min_s: float = setting(0.5, "...when it also took at least this long", unit="s")
    slow_read_s: float = setting(2.0, "one read taking this long is slow (the drive is retrying)", unit="s")
    sample_interval_s: float = setting(2.0, "how often throughput and progress are sampled", unit="s")
    # previous data
    previous_data: str = setting("warn", "severity of a previous owner's partitions or filesystems on a disk",
                                 choices=("warn", "info"))
    # destructive (run phase): ONLY the devices the user named with --destructive DEVICE and confirmed with
    # --yes-destroy-data SERIAL; the CLI sets this list ("/dev/sdX=SERIAL"), a profile may not
    destructive_devices: tuple[str, ...] = setting((), "set by --destructive/--yes-destroy-data only, never a profile")
    write_verify: str = setting("full", "write a seeded pattern over the whole consented device, read it back",
                                choices=("none", "full"))
    wipe: str = setting("device", "wipe the consented device afterwards (wipe certificate): device = the drive's own "
                                  "sanitize or secure erase where it has one, else zeros; zero = overwrite with zeros",
                        choices=("none", "zero", "device"))
    wipe_verify: str = setting("full", "read the wipe back: every byte, or sample_mib over sample_regions",
                               choices=("full", "sample"))
    write_block_kib: int = setting(1024, "size of one O_DIRECT write", unit="KiB")
    erase_verify_pct: float = setting(1.0, "share of the device read back, in random regions (sample_regions), after "
                                           "the drive's own erase", unit="%")
    erase_poll_s: float = setting(5.0, "how often a running sanitize's progress is read", unit="s")
