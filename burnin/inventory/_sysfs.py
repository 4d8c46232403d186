"""Small sysfs helpers shared by the inventory readers."""

from __future__ import annotations

import re

from burnin.host import Host

PCI_ADDRESS = re.compile(r"^[0-9a-f]{4,}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$")


def link_name(host: Host, host_path: str) -> str | None:
    """The last component of a symlink's target (a driver's name), even when the target is not in the tree."""
    target = host.link_target(host_path)
    return target.rstrip("/").rsplit("/", 1)[-1] or None if target else None


def last_pci_address(sysfs_path: str | None) -> str | None:
    """The PCI device nearest to the end of a sysfs device path (the controller a disk or port hangs off)."""
    return next((p for p in reversed((sysfs_path or "").split("/")) if PCI_ADDRESS.match(p)), None)
