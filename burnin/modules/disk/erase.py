"""The drive's own erase, for a device the user consented to (`destructive`): which one to use, and running it.

`choose` reads what the drive supports (read-only: ``nvme id-ctrl``/``id-ns``, ``hdparm -I``) and picks, in order:
NVMe sanitize block erase, NVMe sanitize crypto erase, Format NVM with crypto erase (SES 2), Format NVM with user
data erase (SES 1); ATA sanitize block erase, ATA sanitize crypto scramble, ATA enhanced (else normal) security erase;
for a SAS/SCSI drive without ATA identify data, the SCSI SANITIZE command (``sg_sanitize``: block erase, else crypto
erase; SCSI drives do not list it, so it is tried, and a refusal means the overwrite).
It declines (the zero overwrite is used instead, and the certificate says why) when the tool is missing, the drive
does not answer, ATA security is frozen or already has a password, or an NVMe sanitize or format would take other
namespaces of the controller with it (the consent names one device).

`EraseJob.run` is called from the write job's thread (`writeverify.WriteJob.device_erase`): it starts the erase and
polls it to its end (NVMe sanitize log SSTAT/SPROG, ``hdparm --sanitize-status``), or until the run ends (a sanitize
cannot be stopped: it goes on in the drive, and the outcome says so). It returns an `EraseOutcome`: whether the
command was accepted (`started`: when not, the overwrite follows), whether the drive reported success (`ok`), the
drive's own status in words and the commands' records (evidence; they run in the write thread, so they are carried
into the findings rather than journaled one by one).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

from burnin.host import CommandResult, Host
from burnin.inventory.disks import Disk
from burnin.module import ModuleContext
from burnin.tools import hdparm, nvme, sg_sanitize

FORMAT_TIMEOUT_S = 4 * 3600.0  # one Format NVM command (a user-data erase of a large drive takes a while)
START_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class ErasePlan:
    kind: str  # "nvme-sanitize" | "nvme-format" | "ata-sanitize" | "ata-security-erase" | "scsi-sanitize"
    action: str  # "block" | "crypto" | "user-data" | "enhanced" | "normal"
    method: str  # in words, for the certificate
    device: str  # the namespace / ATA device
    controller: str  # the NVMe controller (sanitize, its log); the device itself for ATA
    crypto: bool  # leaves the old data encrypted under a destroyed key: reads back as noise, not zeros
    capabilities: str  # what the drive said it supports
    lbaf: int | None = None  # Format NVM: keep the namespace's LBA format
    timeout_s: float = FORMAT_TIMEOUT_S


@dataclass
class EraseOutcome:
    started: bool
    ok: bool
    status: str  # the drive's reported status, in words
    detail: str = ""
    commands: list[dict[str, Any]] = field(default_factory=list)
    still_running: bool = False  # the run ended while the drive's sanitize went on
    crypto: bool | None = None  # which kind the drive accepted, when the plan left it open (SCSI: block, else crypto)


def _namespaces(host: Host, controller: str) -> list[str]:
    name = controller.rsplit("/", 1)[-1]
    return sorted(n for n in host.listdir(f"/sys/class/nvme/{name}") if re.fullmatch(rf"{name}n\d+", n))


def choose(ctx: ModuleContext, host: Host, disk: Disk) -> tuple[ErasePlan | None, str]:
    """The drive's own erase for `disk`, or (None, why not)."""
    controller = nvme.controller_of(disk.dev_path)
    if controller:
        return _choose_nvme(ctx, host, disk, controller)
    plan, why = _choose_ata(ctx, host, disk)
    if plan is None and (disk.transport or "") in ("SAS", "SCSI") and host.which(sg_sanitize.SG_SANITIZE):
        return ErasePlan("scsi-sanitize", "block", "SCSI sanitize, block erase, else crypto erase (sg_sanitize "
                         "--block, else --crypto)", disk.dev_path, disk.dev_path, False,
                         "not listed by SCSI drives: the SANITIZE command is tried"), ""
    return plan, why


def _choose_nvme(ctx: ModuleContext, host: Host, disk: Disk, controller: str) -> tuple[ErasePlan | None, str]:
    if not host.which(nvme.NVME):
        return None, "nvme-cli is not installed"
    caps = nvme.parse_id_ctrl(ctx.run_tool(nvme.id_ctrl_argv(controller)).stdout)
    if caps is None:
        return None, f"nvme id-ctrl {controller} gave no answer"
    others = [n for n in _namespaces(host, controller) if n != disk.name]

    def plan(kind: str, action: str, method: str, crypto: bool) -> ErasePlan:
        return ErasePlan(kind, action, method, disk.dev_path, controller, crypto, caps.describe())

    if caps.sanitize_block or caps.sanitize_crypto:
        if others:
            why = f"a sanitize would also erase {', '.join(others)} (other namespaces of {controller})"
        else:
            action = "block" if caps.sanitize_block else "crypto"
            return plan("nvme-sanitize", action, f"NVMe sanitize, {action} erase (nvme sanitize --sanact="
                                                 f"{nvme.SANACT[action]})", action == "crypto"), ""
    else:
        why = "no sanitize (SANICAP 0)"
    if not caps.format_nvm:
        return None, f"{why}; no Format NVM (OACS bit 1 clear)"
    if others and caps.format_all_namespaces:
        return None, f"{why}; a Format NVM would also erase {', '.join(others)} (FNA: all namespaces)"
    lbaf = nvme.parse_id_ns_lbaf(ctx.run_tool(nvme.id_ns_argv(disk.dev_path)).stdout)
    if lbaf is None:
        return None, f"{why}; nvme id-ns {disk.dev_path} gave no LBA format to keep"
    ses = "crypto" if caps.format_crypto else "user-data"
    words = "cryptographic erase" if ses == "crypto" else "user data erase"
    return replace(plan("nvme-format", ses, f"NVMe Format NVM with {words} (nvme format --ses="
                                                      f"{nvme.SES[ses]})", ses == "crypto"), lbaf=lbaf), ""


def _choose_ata(ctx: ModuleContext, host: Host, disk: Disk) -> tuple[ErasePlan | None, str]:
    if not host.which(hdparm.HDPARM):
        return None, "hdparm is not installed"
    result = ctx.run_tool(hdparm.identify_argv(disk.dev_path))
    caps = hdparm.parse_identify(result.stdout) if result.ok else None
    if caps is None:
        return None, "hdparm -I gave no ATA identify data (not an ATA drive, or a bridge that does not pass it)"
    described = caps.describe()
    if caps.sanitize and (caps.sanitize_block or caps.sanitize_crypto):
        action = "block" if caps.sanitize_block else "crypto"
        flag = hdparm.sanitize_argv(disk.dev_path, action)[2]
        words = "block erase" if action == "block" else "crypto scramble"
        return ErasePlan("ata-sanitize", action, f"ATA sanitize, {words} (hdparm {flag})", disk.dev_path,
                         disk.dev_path, action == "crypto", described), ""
    if not caps.security_supported:
        return None, "the drive supports neither sanitize nor the ATA security erase"
    if caps.security_frozen:
        return None, ("ATA security is frozen (the BIOS froze it at boot; a suspend and resume, or re-plugging the "
                      "drive, unfreezes it), and the drive has no sanitize")
    if caps.security_enabled or caps.security_locked:
        return None, "an ATA security password is already set on the drive (burnin does not know it)"
    action = "enhanced" if caps.enhanced_erase else "normal"
    minutes = caps.erase_minutes or 240
    return ErasePlan("ata-security-erase", action, f"ATA {'enhanced ' if caps.enhanced_erase else ''}security erase "
                     f"(hdparm {hdparm.security_erase_argv(disk.dev_path, caps.enhanced_erase)[3]})", disk.dev_path,
                     disk.dev_path, False, described, timeout_s=minutes * 60 * 2 + 600), ""


class EraseJob:
    """Runs one `ErasePlan` (in the write job's thread) and polls it to its end."""

    def __init__(self, host: Host, plan: ErasePlan, poll_s: float = 5.0):
        self.host, self.plan, self.poll_s = host, plan, poll_s

    def _run(self, outcome: EraseOutcome, argv: list[str], timeout: float = START_TIMEOUT_S) -> CommandResult:
        result = self.host.run(argv, timeout=timeout)
        record = result.to_record()
        record["stdout_tail"] = result.stdout[-500:]
        outcome.commands.append(record)
        return result

    def __call__(self, stop: threading.Event) -> EraseOutcome:
        kind = self.plan.kind
        if kind == "nvme-sanitize":
            return self._nvme_sanitize(stop)
        if kind == "nvme-format":
            return self._nvme_format()
        if kind == "ata-sanitize":
            return self._ata_sanitize(stop)
        if kind == "scsi-sanitize":
            return self._scsi_sanitize(stop)
        return self._ata_security_erase()

    @staticmethod
    def _refused(outcome: EraseOutcome, result: CommandResult, what: str) -> EraseOutcome:
        outcome.detail = (f"{what} was refused: " + (result.error or (result.stderr or result.stdout).strip()[-300:]
                                                     or f"exit status {result.returncode}"))
        outcome.status = outcome.status or "not started"
        return outcome

    def _poll(self, stop: threading.Event, read, outcome: EraseOutcome):
        """Call `read()` every poll_s until it returns a status that is not in progress, or the run ends."""
        deadline_grace = time.monotonic() + 30.0  # a status that never leaves "idle" after the start command
        while True:
            status = read()
            if status is not None and not status.in_progress:
                return status
            if stop.wait(self.poll_s):
                outcome.still_running = True
                return status
            if status is None and time.monotonic() > deadline_grace:
                return None

    def _nvme_sanitize(self, stop: threading.Event) -> EraseOutcome:
        outcome = EraseOutcome(False, False, "")
        plan = self.plan
        start = self._run(outcome, nvme.sanitize_argv(plan.controller, plan.action))
        if not start.ok:
            return self._refused(outcome, start, "the Sanitize command")
        outcome.started = True

        def read():
            return nvme.parse_sanitize_log(self._run(outcome, nvme.sanitize_log_argv(plan.controller)).stdout)

        log = self._poll(stop, read, outcome)
        if log is None:
            outcome.status = "the sanitize log could not be read"
            return outcome
        outcome.status = f"NVMe sanitize log: {log.describe()}"
        if outcome.still_running:
            outcome.detail = ("the run ended while the drive was still sanitizing; a sanitize cannot be stopped and "
                              "goes on in the drive (nvme sanitize-log shows its progress)")
            return outcome
        action = log.cdw10 & 0x7 if log.cdw10 is not None else nvme.SANACT[plan.action]
        outcome.ok = log.succeeded and action == nvme.SANACT[plan.action]
        if log.succeeded and not outcome.ok:
            outcome.detail = "the log reports a different sanitize action than the one burnin started"
        return outcome

    def _nvme_format(self) -> EraseOutcome:
        outcome = EraseOutcome(False, False, "")
        plan = self.plan
        result = self._run(outcome, nvme.format_argv(plan.device, plan.action, plan.lbaf or 0), plan.timeout_s)
        if result.ok and nvme.format_succeeded(result.stdout):
            outcome.started = outcome.ok = True
            outcome.status = (f"Format NVM (SES {nvme.SES[plan.action]}) completed without error: "
                              f"{result.stdout.strip().splitlines()[-1]!r}")
            return outcome
        if result.timed_out:  # it may be running in the drive still: not a refusal, so no overwrite on top of it
            outcome.started, outcome.status = True, f"Format NVM did not finish within {plan.timeout_s:.0f} s"
            return outcome
        outcome.status = "Format NVM failed"
        return self._refused(outcome, result, "the Format NVM command")

    def _ata_sanitize(self, stop: threading.Event) -> EraseOutcome:
        outcome = EraseOutcome(False, False, "")
        plan = self.plan
        start = self._run(outcome, hdparm.sanitize_argv(plan.device, plan.action))
        if not start.ok:
            return self._refused(outcome, start, "the SANITIZE command")
        outcome.started = True

        def read():
            return hdparm.parse_sanitize_status(self._run(outcome, hdparm.sanitize_status_argv(plan.device)).stdout)

        status = self._poll(stop, read, outcome)
        if status is None:
            outcome.status = "hdparm --sanitize-status gave no answer"
            return outcome
        outcome.status = (f"ATA sanitize status: {status.state} {status.text}"
                          + ("; last sanitize operation completed without error" if status.last_ok else ""))
        if outcome.still_running:
            outcome.detail = "the run ended while the drive was still sanitizing (it goes on in the drive)"
            return outcome
        outcome.ok = status.succeeded
        return outcome

    def _scsi_sanitize(self, stop: threading.Event) -> EraseOutcome:
        outcome = EraseOutcome(False, False, "")
        device = self.plan.device
        for action in ("block", "crypto"):
            start = self._run(outcome, sg_sanitize.sanitize_argv(device, action))
            if start.ok:
                outcome.started, outcome.crypto = True, action == "crypto"
                break
            if not sg_sanitize.action_unsupported(start.stdout + start.stderr):
                return self._refused(outcome, start, "the SANITIZE command")
        else:
            return self._refused(outcome, start, "the SANITIZE command (block and crypto erase)")
        progress = None
        while True:
            progress = sg_sanitize.parse_progress(self._run(outcome, sg_sanitize.progress_argv(device)).stdout)
            if progress is None:
                break
            if stop.wait(self.poll_s):
                outcome.still_running = True
                outcome.status = f"SCSI sanitize ({action} erase) in progress, {progress} % done"
                outcome.detail = "the run ended while the drive was still sanitizing (it goes on in the drive)"
                return outcome
        ready = self._run(outcome, sg_sanitize.turs_argv(device))
        outcome.ok = ready.ok
        outcome.status = (f"SCSI sanitize ({action} erase) accepted and over; TEST UNIT READY afterwards: "
                          + ("ready" if ready.ok else (ready.stdout + ready.stderr).strip()[-200:] or
                             f"exit status {ready.returncode}"))
        return outcome

    def _ata_security_erase(self) -> EraseOutcome:
        outcome = EraseOutcome(False, False, "")
        plan = self.plan
        password = self._run(outcome, hdparm.security_set_pass_argv(plan.device))
        if not password.ok:
            return self._refused(outcome, password, "setting the temporary security password")
        outcome.started = True
        erase = self._run(outcome, hdparm.security_erase_argv(plan.device, plan.action == "enhanced"), plan.timeout_s)
        if erase.ok:
            outcome.ok = True
            outcome.status = f"SECURITY ERASE UNIT ({plan.action}) completed without error"
        else:
            outcome.status = f"SECURITY ERASE UNIT ({plan.action}) failed"
            outcome.detail = (f"{(erase.error or erase.stderr.strip())[-300:]}; the drive may still hold the "
                              f"temporary user password {hdparm.SECURITY_PASSWORD!r}: hdparm --user-master u "
                              f"--security-disable {hdparm.SECURITY_PASSWORD} {plan.device}")
        return outcome
