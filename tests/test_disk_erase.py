"""The drive's own erase (issue 17, item 4): the nvme-cli and hdparm adapters on captured output
(tests/data/disk-erase, SOURCE.md), the choice of method and its refusals, the polling to completion, and the wipe
certificate on a loop device whose "drive erase" is played by the test (the pattern/read-back/hash path is real)."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from burnin.host import CommandResult
from burnin.modules.disk import erase
from burnin.tools import hdparm, nvme, sg_sanitize

DATA = Path(__file__).parent / "data" / "disk-erase"


def read(name: str) -> str:
    return (DATA / name).read_text()


# -- nvme-cli -----------------------------------------------------------------------------------------------------
def test_id_ctrl_of_a_wdc_sn730_offers_sanitize_block_and_crypto_and_crypto_format():
    caps = nvme.parse_id_ctrl(read("ipa-wdc-sn730-id-ctrl.json"))
    assert caps is not None and caps.model == "WDC PC SN730 SDBQNTY-256G-1001"
    assert (caps.format_nvm, caps.sanitize_block, caps.sanitize_crypto, caps.sanitize_overwrite,
            caps.format_crypto, caps.format_all_namespaces, caps.namespaces) == (True, True, True, False, True,
                                                                                 False, 1)
    assert caps.describe() == "sanitize: block erase, crypto erase; Format NVM with crypto erase"


def test_id_ctrl_of_qemu_offers_format_only():
    caps = nvme.parse_id_ctrl(read("qemu72-id-ctrl.json"))
    assert caps is not None and caps.model == "QEMU NVMe Ctrl"
    assert (caps.format_nvm, caps.sanitize_block, caps.sanitize_crypto, caps.format_crypto) == (True, False, False,
                                                                                               False)
    assert nvme.parse_id_ns_lbaf(read("qemu72-id-ns.json")) == 0
    assert nvme.parse_id_ns_lbaf('{"flbas": 4}') == 4 and nvme.parse_id_ns_lbaf('{"flbas": "0x24"}') == 0x14


@pytest.mark.parametrize("text", ["", "not json", "[]", '{"vid": 1}', read("qemu72-sanitize-log-unsupported.txt")])
def test_nvme_parsers_answer_none_to_anything_else(text):
    assert nvme.parse_id_ctrl(text) is None and nvme.parse_sanitize_log(text) is None


def test_sanitize_log_after_a_block_erase():
    log = nvme.parse_sanitize_log(read("synth-nvme-sanitize-log-done.json"))
    assert log is not None and log.succeeded and not log.in_progress
    assert (log.status, log.global_erased, log.passes, log.progress, log.cdw10) == (1, True, 0, 65535, 2)
    assert log.describe() == ("SSTAT status 1: completed successfully, global data erased, last action block "
                              "(CDW10 0x2)")


def test_sanitize_log_while_running_and_the_older_layouts():
    log = nvme.parse_sanitize_log(read("synth-nvme-sanitize-log-running.json"))
    assert log is not None and log.in_progress and log.percent == 25.0 and not log.succeeded
    # nvme-cli 1.x: at the top level, SSTAT a number (0x101: completed, global data erased)
    old = nvme.parse_sanitize_log('{"sprog": 65535, "sstat": 257, "cdw10_info": 4}')
    assert old is not None and (old.status, old.global_erased, old.cdw10) == (1, True, 4)
    # one nvme-cli release keyed the status string by itself: the "(N)" is read wherever it is
    odd = nvme.parse_sanitize_log('{"nvme0": {"sprog": 65535, "sstat": {"global_erased": 0, "no_cmplted_passes": 0,'
                                  ' "Sanitize failed": "(3) Sanitize failed"}}}')
    assert odd is not None and odd.status == 3 and not odd.succeeded


def test_nvme_argv_and_format_result():
    assert nvme.controller_of("/dev/nvme2n1") == "/dev/nvme2" and nvme.controller_of("/dev/sda") is None
    assert nvme.sanitize_argv("/dev/nvme2", "crypto") == ["nvme", "sanitize", "/dev/nvme2", "--sanact=4"]
    assert nvme.format_argv("/dev/nvme2n1", "user-data", 0) == ["nvme", "format", "/dev/nvme2n1", "--ses=1",
                                                                "--lbaf=0", "--force"]
    assert nvme.format_succeeded(read("qemu72-format-ses1.txt"))
    assert not nvme.format_succeeded(read("qemu72-sanitize-unsupported.txt"))


# -- hdparm -------------------------------------------------------------------------------------------------------
def test_hdparm_identify_of_an_intel_ssd_offers_enhanced_security_erase_not_frozen():
    caps = hdparm.parse_identify(read("maas-intel-ssdsc2ct240a4-hdparm-I.txt"))
    assert caps is not None and caps.model == "INTEL SSDSC2CT240A4"
    assert (caps.sanitize, caps.security_supported, caps.security_enabled, caps.security_locked,
            caps.security_frozen, caps.enhanced_erase, caps.erase_minutes) == (False, True, False, False, False,
                                                                               True, 2)


def test_hdparm_security_frozen_and_not_supported():
    frozen = hdparm.parse_identify(read("maas-security-frozen.txt"))
    assert frozen is not None and frozen.security_frozen and frozen.security_enabled and frozen.security_locked
    unsupported = hdparm.parse_identify(read("maas-security-not-supported.txt"))
    assert unsupported is not None and not unsupported.security_supported and not unsupported.security_frozen


def test_hdparm_identify_sanitize_features():
    block = hdparm.parse_identify(read("tinyapps-hdparm-I-sanitize-block.txt"))
    crypto = hdparm.parse_identify(read("tinyapps-hdparm-I-sanitize-crypto.txt"))
    assert block is not None and block.sanitize and block.sanitize_block and not block.sanitize_crypto
    assert crypto is not None and crypto.sanitize and crypto.sanitize_crypto and not crypto.sanitize_block
    assert hdparm.parse_identify(read("qemu72-hdparm-I-virtio-scsi.txt")) is None  # no ATA identify behind it


def test_hdparm_sanitize_status():
    done = hdparm.parse_sanitize_status(read("tinyapps-sanitize-status-done.txt"))
    assert done is not None and done.succeeded and not done.in_progress and done.state == "SD0"
    running = hdparm.parse_sanitize_status(read("synth-sanitize-status-in-progress.txt"))
    assert running is not None and running.in_progress and running.percent == 25.0 and not running.succeeded
    assert hdparm.parse_sanitize_status(read("tinyapps-sanitize-status-unsupported.txt")) is None
    failed = hdparm.parse_sanitize_status("Sanitize status:\n    State:    SD3 Sanitize Operation Failed\n")
    assert failed is not None and not failed.succeeded and not failed.in_progress


# -- choosing and running -----------------------------------------------------------------------------------------
class StubHost:
    """Answers each argv (joined by spaces) from a table; a list of answers is consumed in order."""

    def __init__(self, answers: dict, tools=("nvme", "hdparm"), listing=()):
        self.answers, self.tools, self.listing, self.ran = answers, tools, list(listing), []

    def which(self, tool):
        return f"/usr/sbin/{tool}" if tool in self.tools else None

    def listdir(self, path):
        return self.listing

    def run(self, argv, timeout=30.0, input=None):
        key = " ".join(argv)
        self.ran.append(key)
        answer = self.answers.get(key, (1, "", "unknown command"))
        if isinstance(answer, list):
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        rc, out, err = answer
        return CommandResult(tuple(argv), rc, out, err, 0.01)


def ctx_for(host):
    return SimpleNamespace(run_tool=lambda argv, timeout=30.0: host.run(argv, timeout))


def disk(dev: str):
    return SimpleNamespace(dev_path=dev, name=dev.rsplit("/", 1)[-1], transport="SATA")


def test_nvme_with_sanitize_chooses_block_erase_and_polls_it_to_completion():
    host = StubHost({"nvme id-ctrl /dev/nvme1 -o json": (0, read("ipa-wdc-sn730-id-ctrl.json"), ""),
                     "nvme sanitize /dev/nvme1 --sanact=2": (0, "", ""),
                     "nvme sanitize-log /dev/nvme1 -o json": [(0, read("synth-nvme-sanitize-log-running.json"), ""),
                                                               (0, read("synth-nvme-sanitize-log-done.json"), "")]},
                    listing=["nvme1n1", "device", "nvme1c1n1"])
    plan, why = erase.choose(ctx_for(host), host, disk("/dev/nvme1n1"))
    assert plan is not None and why == "" and (plan.kind, plan.action, plan.crypto) == ("nvme-sanitize", "block",
                                                                                        False)
    outcome = erase.EraseJob(host, plan, poll_s=0.01)(threading.Event())
    assert outcome.started and outcome.ok and not outcome.still_running
    assert outcome.status == ("NVMe sanitize log: SSTAT status 1: completed successfully, global data erased, last "
                              "action block (CDW10 0x2)")
    assert host.ran.count("nvme sanitize-log /dev/nvme1 -o json") == 2 and len(outcome.commands) == 3


def test_nvme_sanitize_is_not_used_when_the_controller_has_other_namespaces():
    host = StubHost({"nvme id-ctrl /dev/nvme1 -o json": (0, read("ipa-wdc-sn730-id-ctrl.json"), ""),
                     "nvme id-ns /dev/nvme1n1 -o json": (0, read("qemu72-id-ns.json"), "")},
                    listing=["nvme1n1", "nvme1n2"])
    plan, _ = erase.choose(ctx_for(host), host, disk("/dev/nvme1n1"))
    assert plan is not None and (plan.kind, plan.action, plan.crypto, plan.lbaf) == ("nvme-format", "crypto", True, 0)


def test_the_rig_qemu_nvme_gets_format_with_user_data_erase():
    host = StubHost({"nvme id-ctrl /dev/nvme2 -o json": (0, read("qemu72-id-ctrl.json"), ""),
                     "nvme id-ns /dev/nvme2n1 -o json": (0, read("qemu72-id-ns.json"), ""),
                     "nvme format /dev/nvme2n1 --ses=1 --lbaf=0 --force": (0, read("qemu72-format-ses1.txt"), "")},
                    listing=["nvme2n1"])
    plan, _ = erase.choose(ctx_for(host), host, disk("/dev/nvme2n1"))
    assert plan is not None and (plan.kind, plan.action) == ("nvme-format", "user-data")
    outcome = erase.EraseJob(host, plan)(threading.Event())
    assert outcome.ok and outcome.status == ("Format NVM (SES 1) completed without error: "
                                             "'Success formatting namespace:1'")


def test_a_refused_sanitize_is_not_started_so_the_overwrite_follows():
    host = StubHost({"nvme sanitize /dev/nvme2 --sanact=2": (1, "", read("qemu72-sanitize-unsupported.txt"))})
    plan = erase.ErasePlan("nvme-sanitize", "block", "NVMe sanitize", "/dev/nvme2n1", "/dev/nvme2", False, "")
    outcome = erase.EraseJob(host, plan)(threading.Event())
    assert not outcome.started and not outcome.ok and "Invalid Command Opcode" in outcome.detail


def test_a_sanitize_that_outlives_the_run_is_reported_still_running():
    host = StubHost({"nvme sanitize /dev/nvme1 --sanact=2": (0, "", ""),
                     "nvme sanitize-log /dev/nvme1 -o json": (0, read("synth-nvme-sanitize-log-running.json"), "")})
    plan = erase.ErasePlan("nvme-sanitize", "block", "NVMe sanitize", "/dev/nvme1n1", "/dev/nvme1", False, "")
    stop = threading.Event()
    stop.set()
    outcome = erase.EraseJob(host, plan, poll_s=0.01)(stop)
    assert outcome.started and not outcome.ok and outcome.still_running and "progress 25.0 %" in outcome.status


def test_ata_frozen_security_without_sanitize_is_declined_with_the_reason():
    host = StubHost({"hdparm -I /dev/sdb": (0, read("maas-security-frozen.txt"), "")})
    plan, why = erase.choose(ctx_for(host), host, disk("/dev/sdb"))
    assert plan is None and "frozen" in why and "suspend and resume" in why


def test_ata_choices_sanitize_first_then_enhanced_security_erase():
    host = StubHost({"hdparm -I /dev/sdb": (0, read("tinyapps-hdparm-I-sanitize-block.txt"), ""),
                     "hdparm -I /dev/sdc": (0, read("maas-intel-ssdsc2ct240a4-hdparm-I.txt"), ""),
                     "hdparm -I /dev/sdd": (0, read("qemu72-hdparm-I-virtio-scsi.txt"), "")})
    sanitize, _ = erase.choose(ctx_for(host), host, disk("/dev/sdb"))
    assert sanitize is not None and (sanitize.kind, sanitize.action) == ("ata-sanitize", "block")
    security, _ = erase.choose(ctx_for(host), host, disk("/dev/sdc"))
    assert security is not None and (security.kind, security.action) == ("ata-security-erase", "enhanced")
    assert security.timeout_s == 2 * 60 * 2 + 600
    none, why = erase.choose(ctx_for(host), host, disk("/dev/sdd"))
    assert none is None and "no ATA identify" in why


def test_ata_sanitize_polls_hdparm_status_to_completion():
    host = StubHost({"hdparm --yes-i-know-what-i-am-doing --sanitize-block-erase /dev/sdb": (0, "", ""),
                     "hdparm --sanitize-status /dev/sdb": [(0, read("synth-sanitize-status-in-progress.txt"), ""),
                                                           (0, read("tinyapps-sanitize-status-done.txt"), "")]})
    plan = erase.ErasePlan("ata-sanitize", "block", "ATA sanitize", "/dev/sdb", "/dev/sdb", False, "")
    outcome = erase.EraseJob(host, plan, poll_s=0.01)(threading.Event())
    assert outcome.ok and outcome.status == ("ATA sanitize status: SD0 Sanitize Idle; last sanitize operation "
                                             "completed without error")


def test_a_failed_security_erase_says_how_to_remove_the_temporary_password():
    host = StubHost({"hdparm --user-master u --security-set-pass burnin /dev/sdc": (0, "", ""),
                     "hdparm --user-master u --security-erase-enhanced burnin /dev/sdc": (5, "", "SG_IO: bad sense")})
    plan = erase.ErasePlan("ata-security-erase", "enhanced", "ATA enhanced security erase", "/dev/sdc", "/dev/sdc",
                           False, "")
    outcome = erase.EraseJob(host, plan)(threading.Event())
    assert outcome.started and not outcome.ok and "--security-disable burnin /dev/sdc" in outcome.detail


def test_a_scsi_layers_made_up_hpa_answer_is_not_read_as_a_hidden_area():
    # Real: `hdparm -N` of QEMU's scsi-hd prints an SG_IO error, then "max sectors = 0/1, HPA is enabled". No drive
    # has 0 visible sectors: that is no answer, not a hidden area (which would refuse a "wiped" certificate).
    from burnin.modules.disk.destructive import certificate_verdict

    text = read("qemu72-hdparm-I-virtio-scsi.txt")
    assert "max sectors   = 0/1, HPA is enabled" in text
    assert hdparm.parse_hpa(text) is None
    assert certificate_verdict(None, "hdparm -N gave no answer") == (True, "not read: hdparm -N gave no answer")
    assert certificate_verdict(None, "not applicable: an NVMe drive has no HPA or DCO") == (
        True, "not applicable: an NVMe drive has no HPA or DCO")


def test_a_device_configuration_overlay_that_hides_sectors_refuses_the_wiped_certificate():
    from burnin.modules.disk.destructive import certificate_verdict

    real = hdparm.parse_dco_real_max(read("synth-hdparm-dco-identify.txt"))
    assert real == 5860533168
    assert hdparm.parse_dco_real_max(read("qemu72-hdparm-I-virtio-scsi.txt")) is None
    whole = hdparm.Hpa(5860533168, 5860533168, False)
    assert certificate_verdict(whole, "", real) == (True, "HPA disabled (5860533168 sectors, all visible); DCO: real "
                                                          "max 5860533168, nothing hidden")
    shrunk = hdparm.Hpa(5000000000, 5000000000, False)  # a DCO set to 5e9 sectors on that 3 TB drive
    ok, state = certificate_verdict(shrunk, "", real)
    assert not ok and "DCO: 860533168 more sectors hidden" in state and "did not reach" in state
    assert certificate_verdict(whole, "", None)[1].endswith("; DCO not reported")


# -- SCSI / SAS: sg_sanitize ---------------------------------------------------------------------------------------
# sg3_utils' own strings (sg_sanitize.c, sg_requests.c): outputs written here in those formats (synthesized; the
# rig's QEMU disks give the real refusals, tests/data/disk-erase/qemu72-sg_*).
SG_PROGRESS = "Progress indication: 37.52% done\n"
SG_BAD_FIELD = "    SEAGATE   ST1200MM0088      N003\nbad field in Sanitize cdb, option probably not supported\n"


def test_sg_progress_and_refusal_words():
    assert sg_sanitize.parse_progress(SG_PROGRESS) == 37.52 and sg_sanitize.parse_progress("") is None
    assert sg_sanitize.action_unsupported(SG_BAD_FIELD)
    assert not sg_sanitize.action_unsupported("Sanitize command not supported\n")
    assert sg_sanitize.sanitize_argv("/dev/sdd", "block") == ["sg_sanitize", "--block", "--quick", "--early",
                                                              "/dev/sdd"]


def test_a_sas_drive_without_ata_identify_gets_scsi_sanitize_crypto_when_block_is_refused():
    host = StubHost({"hdparm -I /dev/sdd": (0, read("qemu72-hdparm-I-virtio-scsi.txt"), ""),
                     "sg_sanitize --block --quick --early /dev/sdd": (5, "", SG_BAD_FIELD),
                     "sg_sanitize --crypto --quick --early /dev/sdd": (0, "", ""),
                     "sg_requests --progress /dev/sdd": [(0, SG_PROGRESS, ""), (0, "", "")],
                     "sg_turs /dev/sdd": (0, "", "")}, tools=("hdparm", "sg_sanitize"))
    sas = SimpleNamespace(dev_path="/dev/sdd", name="sdd", transport="SAS")
    plan, _ = erase.choose(ctx_for(host), host, sas)
    assert plan is not None and plan.kind == "scsi-sanitize"
    outcome = erase.EraseJob(host, plan, poll_s=0.01)(threading.Event())
    assert outcome.started and outcome.ok and outcome.crypto is True
    assert outcome.status == "SCSI sanitize (crypto erase) accepted and over; TEST UNIT READY afterwards: ready"
    assert host.ran.count("sg_requests --progress /dev/sdd") == 2


def test_a_scsi_drive_that_does_not_know_sanitize_is_refused_so_the_overwrite_follows():
    host = StubHost({"sg_sanitize --block --quick --early /dev/sdd": (9, "", "Sanitize command not supported\n")})
    plan = erase.ErasePlan("scsi-sanitize", "block", "SCSI sanitize", "/dev/sdd", "/dev/sdd", False, "")
    outcome = erase.EraseJob(host, plan)(threading.Event())
    assert not outcome.started and "Sanitize command not supported" in outcome.detail
    assert host.ran == ["sg_sanitize --block --quick --early /dev/sdd"]  # no crypto attempt after "not supported"


def test_real_refusals_of_qemus_scsi_disks_mean_not_started():
    virtio = read("qemu72-sg_sanitize-virtio-scsi-invalid-opcode.txt")
    megasas = read("qemu72-sg_sanitize-megasas-hardware-error.txt")
    assert not sg_sanitize.action_unsupported(virtio) and not sg_sanitize.action_unsupported(megasas)
    assert sg_sanitize.action_unsupported("Sanitize failed: Illegal request\n")  # 1.46's words for a bad field
    assert sg_sanitize.parse_progress(read("qemu72-sg_requests-progress-idle.txt")) is None
    for text, rc in ((virtio, 9), (megasas, 3)):
        host = StubHost({"sg_sanitize --block --quick --early /dev/sdc": (rc, "", text)})
        plan = erase.ErasePlan("scsi-sanitize", "block", "SCSI sanitize", "/dev/sdc", "/dev/sdc", False, "")
        outcome = erase.EraseJob(host, plan)(threading.Event())
        assert not outcome.started and not outcome.ok and "Sanitize failed" in outcome.detail
        assert len(host.ran) == 1
