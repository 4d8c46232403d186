"""The kernel-log catalogue: one table per subsystem, each row a pattern, a code, a severity with its rule, how
to name the part, and real example lines with their sources.

Adding a driver's message is one row in its subsystem's table, with the example line it was seen in; the test
suite checks every row against its own examples. The first matching row wins, so within a table specific rows
come before general ones, and the tables are searched in the order below.
"""

from __future__ import annotations

from dataclasses import replace

from burnin.kernel_log.catalogue import (aer, ata, block, edac, ghes, gpu, ipmi, mce, memory, nic, nvme, raid, scsi,
                                         system, xid)
from burnin.kernel_log.entry import Entry

# (subsystem name, table) in search order.
TABLES = (
    ("mce", mce.TABLE),
    ("ghes", ghes.TABLE),
    ("edac", edac.TABLE),
    ("memory", memory.TABLE),
    ("aer", aer.TABLE),
    ("ata", ata.TABLE),
    ("scsi", scsi.TABLE),
    ("block", block.TABLE),
    ("nvme", nvme.TABLE),
    ("raid", raid.TABLE),
    ("nic", nic.TABLE),
    ("xid", xid.TABLE),  # one row per documented NVIDIA Xid, before the gpu table's generic Xid rows
    ("gpu", gpu.TABLE),
    ("ipmi", ipmi.TABLE),
    ("system", system.TABLE),
)

CATALOGUE: tuple[Entry, ...] = tuple(replace(e, subsystem=name) for name, table in TABLES for e in table)
SUBSYSTEM_OF_CODE: dict[str, str] = {}
for _e in CATALOGUE:
    SUBSYSTEM_OF_CODE.setdefault(_e.code, _e.subsystem)
