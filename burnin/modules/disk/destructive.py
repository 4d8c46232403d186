"""Destructive: the write-verify and zero wipe of the devices the user consented to, and the rules that decide
which devices may be written at all.

Consent names the device and its serial (`burnin run --destructive DEVICE --yes-destroy-data SERIAL`, checked by
`destructive_consent` before any journal exists, and again by `destructive_refusal` when the run phase starts).
Writing goes only through `burnin.tools.writeverify` (which asserts the consent and opens O_EXCL); a wipe that was
read back leaves a `wipe-certificate` note. With `wipe` = "device" the drive's own erase is preferred
(`burnin.modules.disk.erase`: NVMe sanitize or Format NVM with secure erase, ATA sanitize or security erase), its
reported status and a random sample's read-back go on the certificate; the zero overwrite is the fallback, and the
certificate says why the drive's erase was not used.
"""

from __future__ import annotations

import functools
import os
import random
import threading
import time
from typing import Sequence

from burnin.host import Host
from burnin.inventory.disks import Disk, mounted_devices, read_disk
from burnin.module import ModuleContext
from burnin.modules.disk import erase as drive_erase
from burnin.modules.disk.settings import DiskSettings
from burnin.modules.disk.smart import component_of
from burnin.tools import hdparm, nvme, readscan, writeverify


def hidden_area_of(ctx: ModuleContext, host: Host, disk: Disk) -> tuple[hdparm.Hpa | None, str, int | None]:
    """The drive's Host Protected Area (``hdparm -N``) and its Device Configuration Overlay's real size (``hdparm
    --dco-identify``), both read-only: sectors an overwrite cannot reach. (None, why, None) when the HPA could not
    be read (no hdparm, not an ATA drive, a bridge that does not pass the command)."""
    if nvme.controller_of(disk.dev_path):
        return None, "not applicable: an NVMe drive has no HPA or DCO", None
    if not host.which(hdparm.HDPARM):
        return None, "hdparm is not installed", None
    result = ctx.run_tool(hdparm.hpa_argv(disk.dev_path), timeout=30.0)
    hpa = hdparm.parse_hpa(result.stdout + result.stderr)
    if not hpa:
        return None, "hdparm -N gave no answer (not an ATA drive, or a bridge that does not pass it)", None
    dco = ctx.run_tool(hdparm.dco_argv(disk.dev_path), timeout=30.0)
    return hpa, "", hdparm.parse_dco_real_max(dco.stdout)


def certificate_verdict(hpa: hdparm.Hpa | None, why_unread: str, dco_real_max: int | None = None) -> tuple[bool, str]:
    """Whether a verified wipe may be certified "wiped", and the HPA/DCO state to print on the certificate."""
    if hpa is None:
        return True, why_unread if why_unread.startswith("not applicable") else f"not read: {why_unread}"
    dco_hidden = max(0, (dco_real_max or 0) - hpa.native_sectors)
    dco = ("; DCO not reported" if dco_real_max is None else
           f"; DCO: {dco_hidden} more sectors hidden (real max {dco_real_max})" if dco_hidden else
           f"; DCO: real max {dco_real_max}, nothing hidden")
    if hpa.enabled and hpa.hidden_sectors:
        return False, (f"HPA enabled: {hpa.hidden_sectors} sectors hidden ({hpa.visible_sectors} visible of "
                       f"{hpa.native_sectors}); the wipe did not reach them{dco}")
    if dco_hidden:
        return False, (f"HPA disabled ({hpa.native_sectors} sectors){dco}: a Device Configuration Overlay makes the "
                       "drive smaller than it was built, and the wipe did not reach those sectors")
    return True, f"HPA disabled ({hpa.native_sectors} sectors, all visible){dco}"


# -- the rules for writing: consent naming the device --------------------------------------------
def writable_refusal(disk: Disk) -> str | None:
    """Why `disk` must never be written to, or None."""
    if disk.system:
        return f"{disk.dev_path} holds the running system ({', '.join(disk.mountpoints) or 'boot or live medium'})"
    if disk.mountpoints:
        return f"{disk.dev_path} is mounted or used as swap ({', '.join(disk.mountpoints)})"
    if disk.holders:
        return f"{disk.dev_path} is in use by {', '.join(disk.holders)} (device-mapper or md)"
    return None


def lookup_disk(host: Host, device: str) -> Disk | None:
    """The whole disk `device` names (/dev/sdb, a /dev/disk/by-id link), read afresh from sysfs with its mount
    state, or None when it is no whole disk here. Loop devices read as disks without a serial (so they are refused:
    tests stand in for this function)."""
    real = host.realpath(device) if host.live else device
    name = real.rstrip("/").rsplit("/", 1)[-1]
    if not name or not host.exists(f"/sys/block/{name}"):
        return None
    return read_disk(host, name, mounted_devices(host))


def destructive_refusal(device: str, disk: Disk | None, serial: str | None) -> str | None:
    """Why the disk `device` names (`disk`, as `lookup_disk` read it) may not be destroyed with the consent
    `serial` (the user's --yes-destroy-data), or None when it may."""
    if disk is None:
        return f"{device}: no such whole disk here"
    why = writable_refusal(disk)
    if why:
        return why
    if not disk.serial:
        return f"{disk.dev_path} has no known serial number, so no consent can name it"
    if serial is None:
        return (f"{disk.dev_path} (S/N {disk.serial}) needs --yes-destroy-data {disk.serial}: everything on it "
                "will be destroyed")
    if serial != disk.serial:
        return f"{disk.dev_path}: --yes-destroy-data {serial!r} does not match its serial number {disk.serial!r}"
    return None


def destructive_consent(host: Host, devices: Sequence[str], serials: Sequence[str]) -> list[str]:
    """Check the --destructive DEVICE / --yes-destroy-data SERIAL pairs; "/dev/X=SERIAL" for each consented
    device. Raises ValueError (one line) on the first refusal."""
    if not host.live:
        raise ValueError("--destructive is not possible on a captured tree (--sysroot)")
    if not devices:
        raise ValueError("--yes-destroy-data needs --destructive DEVICE")
    left = list(serials)
    consented: list[str] = []
    for device in devices:
        disk = lookup_disk(host, device)
        serial = disk.serial if disk is not None and disk.serial in left else (left[0] if left else None)
        why = destructive_refusal(device, disk, serial)
        if why:
            raise ValueError(f"--destructive refused: {why}")
        assert disk is not None and disk.serial
        left.remove(disk.serial)
        entry = f"{disk.dev_path}={disk.serial}"
        if entry in consented:
            raise ValueError(f"--destructive names {disk.dev_path} twice")
        consented.append(entry)
    if left:
        raise ValueError(f"--yes-destroy-data {left[0]!r} matches none of the --destructive devices")
    return consented


# -- write-verify and wipe over a run --------------------------------------------------------------
class Destructive:
    """The write-verify-and-wipe jobs of one run phase: a `writeverify.WriteJob` per consented device (each a
    load the module drives), and their judgement."""

    def __init__(self, host: Host, settings: DiskSettings):
        self.host = host
        self.settings = settings
        self.jobs: list[writeverify.WriteJob] = []

    @property
    def devices(self) -> set[str]:
        return {job.disk.dev_path for job in self.jobs}  # type: ignore[attr-defined]

    def judge(self, ctx: ModuleContext) -> list[str]:
        """Judge every job; problems that make the module an ERROR."""
        return [problem for job in self.jobs for problem in self._judge(ctx, job)]

    def plan(self, ctx: ModuleContext) -> list[str]:
        """A write-verify-and-wipe job (not started: they are loads) for every device the user consented to, each
        checked again first (mounted since? another disk under that name?); what cannot start is an error (the
        user asked for it), returned."""
        errors: list[str] = []
        for entry in self.settings.destructive_devices:
            device, _, serial = str(entry).partition("=")
            disk = lookup_disk(self.host, device)
            why = destructive_refusal(device, disk, serial or None)
            if why:
                errors.append(f"destructive test of {device} not started: {why}")
                continue
            assert disk is not None and disk.size_bytes is not None
            lb = self.host.read_int(f"/sys/block/{disk.name}/queue/logical_block_size") or 512
            plan = None
            if self.settings.wipe_verify == "sample":
                plan = functools.partial(readscan.plan_sample, disk.size_bytes, self.settings.sample_mib * readscan.MIB,
                                         self.settings.sample_regions, readscan.MIB, 0)
            erase_plan, declined = (drive_erase.choose(ctx, self.host, disk) if self.settings.wipe == "device"
                                    else (None, ""))
            path = str(self.host.path(disk.dev_path))
            writeverify.consent(path)
            job = writeverify.WriteJob(path, disk.size_bytes, lb, threading.Event(),
                                       seed=int.from_bytes(os.urandom(8), "big"), label=disk.name,
                                       write_verify=self.settings.write_verify == "full",
                                       wipe=self.settings.wipe != "none", wipe_verify_plan=plan,
                                       block_bytes=self.settings.write_block_kib * 1024,
                                       device_erase=(drive_erase.EraseJob(self.host, erase_plan,
                                                                          self.settings.erase_poll_s)
                                                     if erase_plan else None),
                                       erase_verify_plan=functools.partial(
                                           writeverify.plan_random, disk.size_bytes, self.settings.erase_verify_pct,
                                           self.settings.sample_regions, max(readscan.MIB, lb),
                                           random.Random(os.urandom(16))))
            job.disk = disk  # type: ignore[attr-defined]
            job.erase_plan, job.erase_declined = erase_plan, declined  # type: ignore[attr-defined]
            if self.settings.wipe == "device":
                ctx.note(f"{disk.dev_path} (S/N {disk.serial}): " + (
                    f"the drive's own erase will be used: {erase_plan.method}" if erase_plan else
                    f"the drive's own erase cannot be used ({declined}): zeros will be written instead"),
                    disk=disk.dev_path, serial=disk.serial, method=erase_plan.method if erase_plan else None,
                    capabilities=erase_plan.capabilities if erase_plan else None, declined=declined or None)
            job.hpa = hidden_area_of(ctx, self.host, disk) if self.settings.wipe != "none" else (None, "", None)  # type: ignore[attr-defined]
            self.jobs.append(job)
            ctx.note(f"{disk.dev_path} (S/N {disk.serial}): destructive write-verify and wipe started, with the "
                     "user's consent", disk=disk.dev_path, serial=disk.serial, size_bytes=disk.size_bytes,
                     write_verify=self.settings.write_verify, wipe=self.settings.wipe,
                     wipe_verify=self.settings.wipe_verify, seed=job.seed)
        return errors

    def _judge(self, ctx: ModuleContext, job: writeverify.WriteJob) -> list[str]:
        disk: Disk = job.disk  # type: ignore[attr-defined]
        component = component_of(disk.dev_path, disk.serial)
        with job.state.lock:
            state = job.state
            problems, fatal, stage, done = list(state.problems), state.fatal, state.stage, state.bytes_done
            wv_done, wiped, wipe_done, verified = (state.write_verify_done, state.wiped_bytes, state.wipe_done,
                                                   state.wipe_verified)
            started, wipe_started, finished = state.started, state.wipe_started, state.finished or time.time()
            readback = {"sample_sha256": state.wipe_readback_sha256, "readback_bytes": state.wipe_readback_bytes}
            outcome, zero_bytes, regions = state.erase, state.erase_zero_bytes, state.erase_regions
        for p in problems:
            what = "read back wrong" if p.kind == "write-verify-mismatch" else p.message
            ctx.fail(component, p.kind,
                     f"{disk.dev_path} {what} at byte {p.offset} (LBA {p.lba}, {job.logical_block}-byte blocks) "
                     f"during the {p.stage}.",
                     {"offset_bytes": p.offset, "lba": p.lba, "logical_block_size": job.logical_block,
                      "stage": p.stage, "errno": p.errno, "detail": p.message})
        errors = []
        if fatal and not problems:
            if "stopped answering" in fatal:
                ctx.fail(component, "disk-vanished", f"{disk.dev_path} stopped answering: {fatal}.",
                         {"stage": stage})
            else:
                errors.append(f"{disk.dev_path}: {fatal}")
        if wv_done:
            ctx.info(component, "write-verify-passed",
                     f"Every byte written to {disk.dev_path} read back as written.", {"bytes": job.size})
        if self.settings.wipe == "none":
            return errors
        certifiable, hpa_state = certificate_verdict(*getattr(job, "hpa", (None, "not read")))
        plan: drive_erase.ErasePlan | None = getattr(job, "erase_plan", None)
        if plan is not None and outcome is not None and outcome.started:
            self._judge_drive_erase(ctx, job, plan, outcome, certifiable, hpa_state, problems, verified,
                                    {**readback, "zero_bytes": zero_bytes, "regions": regions},
                                    (wipe_started, finished))
            return errors
        declined = (f"not used: {plan.method} was refused by the drive ({outcome.detail})" if plan and outcome
                    else f"not used: {job.erase_declined}" if getattr(job, "erase_declined", "") else None)
        if declined:
            readback["drive_erase"] = declined
        if wipe_done and verified and not certifiable:
            ctx.warn(component, "wipe-hidden-area",
                     f"{disk.dev_path} (S/N {disk.serial}) was overwritten, but it is not wiped: {hpa_state}.",
                     {"hpa": hpa_state, "bytes": job.size})
            ctx.note("wipe-certificate", serial=disk.serial, device=disk.dev_path, model=disk.model,
                     method="overwrite with zeros, 1 pass", bytes=job.size, verified=verified, hpa=hpa_state,
                     **readback, result="NOT WIPED: hidden area")
            return errors
        if wipe_done and verified:
            iso = functools.partial(time.strftime, "%Y-%m-%dT%H:%M:%SZ")
            ctx.note("wipe-certificate", serial=disk.serial, device=disk.dev_path, model=disk.model,
                     method="overwrite with zeros, 1 pass", bytes=job.size, verified=verified, hpa=hpa_state,
                     **readback, result="wiped", started=iso(time.gmtime(wipe_started)), finished=iso(time.gmtime(finished)))
            ctx.info(component, "disk-wiped",
                     f"{disk.dev_path} (S/N {disk.serial}) was overwritten with zeros and read back as zeros "
                     f"({'every byte' if verified == 'full' else 'sampled'}).",
                     {"bytes": job.size, "verified": verified, "method": "zero"})
        elif not problems and not fatal:
            where = (f"zeros written to {wiped} of {job.size} bytes" if stage == "wipe" else
                     f"zeros written, verification stopped after {done} bytes" if stage == "wipe-verify" else
                     f"the check pattern for the drive's erase was being written ({done} bytes); the erase did not "
                     "start" if stage == "erase-pattern" else
                     "the drive's own erase was still running when the run ended (it goes on in the drive; a "
                     "Format NVM or security erase cannot be interrupted)" if stage == "device-erase" else
                     f"the write-verify pass stopped after {done} bytes; the wipe did not start")
            ctx.warn(component, "wipe-incomplete",
                     f"The wipe of {disk.dev_path} (S/N {disk.serial}) did not finish before the run ended "
                     f"({where}): the disk is partly overwritten, not wiped.",
                     {"stage": stage, "bytes_done": done, "zeroed_bytes": wiped, "size_bytes": job.size,
                      "started": round(started, 1)})
        return errors

    def _judge_drive_erase(self, ctx: ModuleContext, job: writeverify.WriteJob, plan: drive_erase.ErasePlan,
                           outcome: drive_erase.EraseOutcome, certifiable: bool, hpa_state: str,
                           problems: list[writeverify.WriteProblem], verified: str, readback: dict,
                           times: tuple[float, float]) -> None:
        """The certificate (or its refusal) for a wipe the drive did itself."""
        disk: Disk = job.disk  # type: ignore[attr-defined]
        component = component_of(disk.dev_path, disk.serial)
        iso = functools.partial(time.strftime, "%Y-%m-%dT%H:%M:%SZ")
        cert = dict(serial=disk.serial, device=disk.dev_path, model=disk.model, method=plan.method, bytes=job.size,
                    drive_status=outcome.status, hpa=hpa_state, capabilities=plan.capabilities,
                    started=iso(time.gmtime(times[0])), finished=iso(time.gmtime(times[1])),
                    commands=outcome.commands)
        evidence = {"method": plan.method, "drive_status": outcome.status, "detail": outcome.detail,
                    "commands": outcome.commands}
        if outcome.still_running or (outcome.ok and not verified and not problems):
            ctx.warn(component, "wipe-incomplete",
                     f"The wipe of {disk.dev_path} (S/N {disk.serial}) did not finish before the run ended: "
                     f"{outcome.detail or 'the read-back of the sample did not finish'} ({outcome.status}).",
                     evidence)
            return
        if not outcome.ok:
            ctx.warn(component, "wipe-device-erase-failed",
                     f"{disk.dev_path} (S/N {disk.serial}): the drive's own erase ({plan.method}) did not report "
                     f"success: {outcome.status}" + (f"; {outcome.detail}" if outcome.detail else "") + ". It is not "
                     "wiped.", evidence)
            ctx.note("wipe-certificate", **cert, result=f"NOT WIPED: the drive reported {outcome.status}")
            return
        sample = (f"{readback['readback_bytes']} bytes in {readback['regions']} random regions "
                  f"({100 * readback['readback_bytes'] / max(job.size, 1):.3g} % of the drive)")
        zero_pct = round(100 * readback["zero_bytes"] / readback["readback_bytes"], 2) if readback[
            "readback_bytes"] else 0.0
        cert.update(sample_sha256=readback["sample_sha256"], readback_bytes=readback["readback_bytes"])
        if any(p.kind == "wipe-not-erased" for p in problems):
            ctx.note("wipe-certificate", **cert, verified=f"sample of {sample}: data written just before the erase "
                     "read back unchanged", result="NOT WIPED: data survived the drive's erase")
            return
        if problems:  # read errors during the read-back: already FAILed, no certificate either way
            return
        if (outcome.crypto if outcome.crypto is not None else plan.crypto):
            content = (f"{zero_pct} % of it reads as zeros: a cryptographic erase leaves the old data encrypted "
                       "under a destroyed key, so it reads back as noise, not zeros")
        elif zero_pct < 100:
            content = (f"{zero_pct} % of it reads as zeros (the standard lets a drive return a vendor pattern for "
                       "erased blocks)")
        else:
            content = "all of it reads as zeros"
        cert["verified"] = (f"sample of {sample}: none of it still holds the random pattern written there just "
                            f"before the erase; {content}")
        if not certifiable:
            ctx.warn(component, "wipe-hidden-area",
                     f"{disk.dev_path} (S/N {disk.serial}) was erased by the drive, but it is not certified wiped: "
                     f"{hpa_state}.", {"hpa": hpa_state, **evidence})
            ctx.note("wipe-certificate", **cert, result="NOT WIPED: hidden area")
            return
        ctx.note("wipe-certificate", **cert, result="wiped")
        ctx.info(component, "disk-wiped",
                 f"{disk.dev_path} (S/N {disk.serial}) was erased by the drive itself ({plan.method}); the drive "
                 f"reported: {outcome.status}; a random sample read back erased ({sample}).",
                 {"bytes": job.size, "verified": "sample", "method": plan.kind, "drive_status": outcome.status,
                  "zero_pct": zero_pct})
