"""System identity: vendor, product, serial, board, BIOS and chassis.

From the SMBIOS tables (types 0-3) when readable, else from /sys/class/dmi/id (readable without root, but
serial numbers there are root-only).
"""

from __future__ import annotations

from dataclasses import dataclass

from burnin.host import Host
from burnin.inventory._record import Record
from burnin.inventory.smbios import CHASSIS_TYPES, Smbios, clean_string

DMI_ID = "/sys/class/dmi/id"


@dataclass(frozen=True)
class SystemInfo(Record):
    vendor: str | None
    product: str | None
    version: str | None
    serial: str | None
    uuid: str | None
    sku: str | None
    family: str | None
    board_vendor: str | None
    board_product: str | None
    board_version: str | None
    board_serial: str | None
    bios_vendor: str | None
    bios_version: str | None
    bios_date: str | None
    chassis_vendor: str | None
    chassis_type: str | None
    chassis_serial: str | None
    chassis_asset_tag: str | None
    smbios_version: str | None
    source: str | None  # "sysfs" / "dump-bin" / "dmidecode-text" (SMBIOS), "dmi-id", or None: nothing read


EMPTY = SystemInfo(*([None] * 20))


def system_from_smbios(smbios: Smbios) -> SystemInfo:
    sys_, board, bios, chassis = smbios.system, smbios.board, smbios.bios, smbios.chassis
    return SystemInfo(
        vendor=sys_ and sys_.manufacturer,
        product=sys_ and sys_.product,
        version=sys_ and sys_.version,
        serial=sys_ and sys_.serial,
        uuid=sys_ and sys_.uuid,
        sku=sys_ and sys_.sku,
        family=sys_ and sys_.family,
        board_vendor=board and board.manufacturer,
        board_product=board and board.product,
        board_version=board and board.version,
        board_serial=board and board.serial,
        bios_vendor=bios and bios.vendor,
        bios_version=bios and bios.version,
        bios_date=bios and bios.release_date,
        chassis_vendor=chassis and chassis.manufacturer,
        chassis_type=chassis and chassis.type,
        chassis_serial=chassis and chassis.serial,
        chassis_asset_tag=chassis and chassis.asset_tag,
        smbios_version=smbios.version,
        source=smbios.source,
    )


def system_from_dmi_id(host: Host) -> SystemInfo | None:
    """/sys/class/dmi/id, the kernel's copy of the main SMBIOS strings. None when absent."""
    if not host.is_dir(DMI_ID):
        return None

    def read(name: str) -> str | None:
        return clean_string(host.read_text(f"{DMI_ID}/{name}"))

    chassis_code = host.read_int(f"{DMI_ID}/chassis_type")
    chassis_type = None
    if chassis_code and 0 < chassis_code <= len(CHASSIS_TYPES):
        chassis_type = CHASSIS_TYPES[chassis_code - 1]
    return SystemInfo(
        vendor=read("sys_vendor"),
        product=read("product_name"),
        version=read("product_version"),
        serial=read("product_serial"),
        uuid=read("product_uuid"),
        sku=read("product_sku"),
        family=read("product_family"),
        board_vendor=read("board_vendor"),
        board_product=read("board_name"),
        board_version=read("board_version"),
        board_serial=read("board_serial"),
        bios_vendor=read("bios_vendor"),
        bios_version=read("bios_version"),
        bios_date=read("bios_date"),
        chassis_vendor=read("chassis_vendor"),
        chassis_type=chassis_type,
        chassis_serial=read("chassis_serial"),
        chassis_asset_tag=read("chassis_asset_tag"),
        smbios_version=None,
        source="dmi-id",
    )


def collect_system(host: Host, smbios: Smbios | None) -> tuple[SystemInfo, list[str]]:
    if smbios is not None and smbios.system is not None:
        return system_from_smbios(smbios), []
    info = system_from_dmi_id(host)
    if info is None:
        why = "not in the captured tree" if not host.live else "the firmware gave the kernel no DMI data"
        return EMPTY, [f"system identity not readable: {DMI_ID} absent ({why})"]
    notes = []
    if info.serial is None and host.exists(f"{DMI_ID}/product_serial"):
        notes.append(f"system serial not readable: {DMI_ID}/product_serial is root-only")
    return info, notes
