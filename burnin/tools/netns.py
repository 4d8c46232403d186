"""Network namespaces, ports and addresses through iproute2's `ip`, with an exact, crash-proof restore.

The network module's port-pair test moves two ports of the box into namespaces of their own, so that traffic
between them has to cross the cable instead of the kernel's loopback shortcut. Moving a port flushes its
addresses and takes it down; a port left in a namespace is gone from the machine. So, before anything moves,
the port's original state (name, MAC, MTU, up/down, addresses) goes into a small JSON ledger under
/run/burnin; `restore_port` puts it back; and `recover` — run at the next start — puts back whatever a killed
or crashed run left behind, and deletes leftover `burnin-*` namespaces (`burnin-PID-START-xxxx-0a`: the owning
process is in the name, so a run never tears down the namespaces of another run that is still alive).

Also here: what makes a port unsafe to move (`in_use_reasons`: the default route, routes, a bridge or bond,
addresses with open sockets — the port an operator may be logged in through), link counters read inside a
namespace (`read_link`), and the probe-frame test that finds two ports cabled to each other
(`detect_cabled_pairs`). Argv is built here; the network module decides what to do.
"""

from __future__ import annotations

import json
import os
import select
import socket
import struct
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from burnin.files import write_atomically
from burnin.host import CommandResult, Host

NETNS_PREFIX = "burnin-"
STATE_DIRS = ("/run/burnin", os.path.join(tempfile.gettempdir(), "burnin"))
LEDGER_GLOB = "network-*.json"
CHANGES_FILE = "port-changes.jsonl"  # burnin's own changes to ports, for the modules that watch ports
OWN_CHANGE_WINDOW_S = 60.0  # a port's events this long after burnin changed it are burnin's doing
PROBE_ETHERTYPE = 0x88B5  # IEEE 802 "local experimental" ethertype: no host or switch acts on it
# RFC 2544's benchmarking range: never routed on the Internet, unlikely to clash with the site's own addresses.
TEST_NETWORK = "198.18.0.0/15"

Run = Callable[[Sequence[str]], CommandResult]


class NetnsError(Exception):
    """An `ip` command that the caller needed did not succeed; the message quotes it."""


# -- records ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Address:
    family: str  # "inet", "inet6"
    local: str
    prefixlen: int
    broadcast: str | None = None
    scope: str | None = None  # "global", "link", "host"
    label: str | None = None
    permanent: bool = True  # False: it has a lifetime (DHCP, SLAAC): someone else manages it

    @property
    def cidr(self) -> str:
        return f"{self.local}/{self.prefixlen}"


@dataclass(frozen=True)
class PortState:
    """What a port looked like before burnin touched it: what restore puts back."""

    name: str
    ifindex: int | None
    mac: str | None
    mtu: int | None
    up: bool  # administratively up (the UP flag)
    addresses: tuple[Address, ...] = ()
    master: str | None = None  # the bridge or bond it belongs to

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["addresses"] = [asdict(a) for a in self.addresses]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "PortState":
        return cls(
            name=str(data["name"]),
            ifindex=data.get("ifindex"),
            mac=data.get("mac"),
            mtu=data.get("mtu"),
            up=bool(data.get("up")),
            addresses=tuple(Address(**a) for a in data.get("addresses") or ()),
            master=data.get("master"),
        )


@dataclass(frozen=True)
class LinkReading:
    """One port's link state and kernel counters, read with `ip -s -s -j link show` (inside a namespace too).

    Counter names are those of /sys/class/net/X/statistics (rx_crc_errors, tx_dropped…) plus carrier_changes.
    """

    name: str
    up: bool
    carrier: bool
    operstate: str | None
    counters: Mapping[str, int] = field(default_factory=dict)


# ip's JSON stats64 keys -> the sysfs statistics names
_RX_KEYS = {"bytes": "rx_bytes", "packets": "rx_packets", "errors": "rx_errors", "dropped": "rx_dropped",
            "over_errors": "rx_over_errors", "multicast": "multicast", "length_errors": "rx_length_errors",
            "crc_errors": "rx_crc_errors", "frame_errors": "rx_frame_errors", "fifo_errors": "rx_fifo_errors",
            "missed_errors": "rx_missed_errors", "nohandler": "rx_nohandler"}
_TX_KEYS = {"bytes": "tx_bytes", "packets": "tx_packets", "errors": "tx_errors", "dropped": "tx_dropped",
            "carrier_errors": "tx_carrier_errors", "collisions": "collisions", "aborted_errors": "tx_aborted_errors",
            "fifo_errors": "tx_fifo_errors", "window_errors": "tx_window_errors",
            "heartbeat_errors": "tx_heartbeat_errors", "carrier_changes": "carrier_changes"}


# -- argv ------------------------------------------------------------------------------------------
def _ip(netns: str | None, *args: str) -> list[str]:
    return ["ip", *(("-n", netns) if netns else ()), *args]


def addr_show_argv(name: str, netns: str | None = None) -> list[str]:
    return _ip(netns, "-j", "addr", "show", "dev", name)


def link_stats_argv(name: str, netns: str | None = None) -> list[str]:
    return _ip(netns, "-s", "-s", "-j", "link", "show", "dev", name)


def link_list_argv(netns: str | None = None) -> list[str]:
    return _ip(netns, "-j", "link", "show")


def netns_list_argv() -> list[str]:
    return ["ip", "-j", "netns", "list"]


def routes_argv(name: str, family: str) -> list[str]:
    return ["ip", "-j", "-6" if family == "inet6" else "-4", "route", "show", "dev", name]


def exec_argv(netns: str, argv: Sequence[str]) -> list[str]:
    """Run a program inside a namespace (Python 3.11 has no os.setns)."""
    return ["ip", "netns", "exec", netns, *argv]


# -- parsing ---------------------------------------------------------------------------------------
def _json(text: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(text or "[]")
    except ValueError:
        return []
    return [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []


def parse_port_state(entry: Mapping[str, Any]) -> PortState:
    """One entry of `ip -j addr show`."""
    addresses = []
    for a in entry.get("addr_info") or ():
        if "local" not in a or "prefixlen" not in a:
            continue
        addresses.append(Address(
            family=str(a.get("family", "")),
            local=str(a["local"]),
            prefixlen=int(a["prefixlen"]),
            broadcast=a.get("broadcast"),
            scope=a.get("scope"),
            label=a.get("label"),
            # 4294967295 is "forever": a static address; anything else was handed out and will be renewed
            permanent=int(a.get("valid_life_time", 4294967295)) == 4294967295,
        ))
    return PortState(
        name=str(entry.get("ifname", "")),
        ifindex=entry.get("ifindex"),
        mac=entry.get("address"),
        mtu=entry.get("mtu"),
        up="UP" in (entry.get("flags") or ()),
        addresses=tuple(addresses),
        master=entry.get("master"),
    )


def parse_link_reading(entry: Mapping[str, Any]) -> LinkReading:
    """One entry of `ip -s -s -j link show`."""
    stats = entry.get("stats64") or entry.get("stats") or {}
    counters: dict[str, int] = {}
    for direction, keys in (("rx", _RX_KEYS), ("tx", _TX_KEYS)):
        for key, name in keys.items():
            value = (stats.get(direction) or {}).get(key)
            if isinstance(value, int):
                counters[name] = value
    flags = entry.get("flags") or ()
    return LinkReading(
        name=str(entry.get("ifname", "")),
        up="UP" in flags,
        carrier="LOWER_UP" in flags,
        operstate=(entry.get("operstate") or "").lower() or None,
        counters=counters,
    )


def _proc_net_addresses(text: str | None, ipv6: bool) -> set[str]:
    """Local addresses of the sockets in /proc/net/{tcp,udp}{,6} that are in use (any state but TIME_WAIT/CLOSE).

    The kernel prints each 32-bit word of the address in host (little-endian) byte order."""
    found: set[str] = set()
    for line in (text or "").splitlines()[1:]:
        parts = line.split()
        if len(parts) < 4 or parts[3] in ("06", "07"):
            continue
        hex_addr = parts[1].split(":")[0]
        try:
            raw = bytes.fromhex(hex_addr)
            words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            found.add(socket.inet_ntop(socket.AF_INET6 if ipv6 else socket.AF_INET, words))
        except (ValueError, OSError):
            continue
    return found


def sockets_local_addresses(host: Host) -> set[str]:
    addresses: set[str] = set()
    for proto in ("tcp", "udp"):
        addresses |= _proc_net_addresses(host.read_text(f"/proc/net/{proto}"), ipv6=False)
        addresses |= _proc_net_addresses(host.read_text(f"/proc/net/{proto}6"), ipv6=True)
    return addresses


# -- reading ---------------------------------------------------------------------------------------
def read_port_state(host: Host, name: str, netns: str | None = None, run: Run | None = None) -> PortState | None:
    result = (run or host.run)(addr_show_argv(name, netns))
    entries = _json(result.stdout) if result.ok else []
    return parse_port_state(entries[0]) if entries else None


def read_link(host: Host, name: str, netns: str | None = None) -> LinkReading | None:
    result = host.run(link_stats_argv(name, netns), timeout=10)
    entries = _json(result.stdout) if result.ok else []
    return parse_link_reading(entries[0]) if entries else None


def list_links(host: Host, netns: str | None = None) -> list[dict[str, Any]]:
    result = host.run(link_list_argv(netns), timeout=10)
    return _json(result.stdout) if result.ok else []


def list_netns(host: Host) -> list[str]:
    result = host.run(netns_list_argv(), timeout=10)
    return [str(e["name"]) for e in _json(result.stdout) if "name" in e] if result.ok else []


def in_use_reasons(host: Host, state: PortState, run: Run | None = None) -> list[str]:
    """Why moving this port out of the root namespace could cut someone off (empty: safe to move).

    Moving a port flushes its addresses and routes and kills every connection over it; the port that carries the
    default route or an open socket is the one the operator may be logged in through."""
    run = run or host.run
    reasons = []
    if state.master:
        reasons.append(f"it is part of {state.master} (a bridge or bond)")
    uppers = [n.removeprefix("upper_") for n in host.listdir(f"/sys/class/net/{state.name}") if n.startswith("upper_")]
    if uppers:
        reasons.append(f"other interfaces are stacked on it ({', '.join(uppers)})")
    for family in ("inet", "inet6"):
        result = run(routes_argv(state.name, family))
        for route in _json(result.stdout) if result.ok else []:
            if route.get("dst") == "default":
                reasons.append(f"it carries the default route ({family}) via {route.get('gateway', '?')}")
            elif route.get("protocol") != "kernel":
                reasons.append(f"it carries the route to {route.get('dst')} ({route.get('protocol', 'static')})")
    managed = [a.cidr for a in state.addresses if not a.permanent]
    if managed:
        reasons.append(f"its addresses {', '.join(managed)} are managed by DHCP or router advertisements")
    busy = sockets_local_addresses(host)
    in_use = [a.local for a in state.addresses if a.local in busy]
    if in_use:
        reasons.append(f"open connections or services use its address {', '.join(in_use)}")
    return reasons


# -- burnin's own changes, announced to the modules that watch ports ---------------------------------
def announce_change(port: str, what: str, directory: str | os.PathLike | None = None) -> None:
    """Say, just before burnin changes a port (into a namespace or back, up or down), that it is about to.

    Moving a port makes the kernel report it removed and added again and log its link going down: the devices
    and kernel-log modules read these announcements (`own_changes`) to tell burnin's own doing from a fault.
    Best effort: a port whose change could not be announced is judged like any other."""
    line = json.dumps({"port": port, "what": what, "time": time.time(), "pid": os.getpid()})
    try:
        path = state_dir(directory) / CHANGES_FILE
        with open(path, "a") as f:
            f.write(line + "\n")
            size = f.tell()
        if size > 256 * 1024:  # keep the recent past only
            recent = [x for x in path.read_text().splitlines()[-200:] if x]
            tmp = path.with_suffix(".tmp")
            tmp.write_text("\n".join(recent) + "\n")
            os.replace(tmp, path)
    except (OSError, NetnsError):
        pass


def parse_changes(text: str, now: float, within_s: float = OWN_CHANGE_WINDOW_S) -> dict[str, float]:
    """Announcements -> {port: seconds since burnin last changed it}, for changes at most `within_s` old."""
    ports: dict[str, float] = {}
    for line in text.splitlines():
        try:
            entry = json.loads(line)
            port, when = str(entry["port"]), float(entry["time"])
        except (ValueError, KeyError, TypeError):
            continue  # a torn last line of a writer killed mid-write
        age = now - when
        if -5.0 <= age <= within_s:  # a little ahead too: wall clocks of two processes read a moment apart
            ports[port] = min(age, ports.get(port, age))
    return ports


def own_changes(directory: str | os.PathLike | None = None, within_s: float = OWN_CHANGE_WINDOW_S,
                now: float | None = None) -> dict[str, float]:
    """Ports that burnin changed in the last `within_s` seconds: {port: seconds ago}."""
    for candidate in ([directory] if directory else []) + list(STATE_DIRS):
        try:
            text = (Path(candidate) / CHANGES_FILE).read_text()
        except OSError:
            continue
        return parse_changes(text, time.time() if now is None else now, within_s)
    return {}


# -- the ledger: original states on disk before anything moves --------------------------------------
def state_dir(preferred: str | os.PathLike | None = None) -> Path:
    """The first writable directory of `preferred`, /run/burnin, $TMPDIR/burnin."""
    for candidate in ([preferred] if preferred else []) + list(STATE_DIRS):
        path = Path(candidate)
        try:
            path.mkdir(parents=True, exist_ok=True)
            if os.access(path, os.W_OK):
                return path
        except OSError:
            continue
    raise NetnsError(f"no writable directory for the restore ledger among {', '.join(STATE_DIRS)}")


def _process_start(host: Host, pid: int) -> str | None:
    """The process's start time (field 22 of /proc/PID/stat): a pid plus this names one process, reuse or not."""
    text = host.read_text(f"/proc/{pid}/stat")
    if not text or ")" not in text:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return fields[19] if len(fields) > 19 else None


class Ledger:
    """The JSON file that says which ports this process moved or raised, and how they were before.

    Written (atomically, fsynced) before each change to the machine, so that a run killed at any moment leaves
    enough behind for `recover` to undo it."""

    def __init__(self, host: Host, directory: str | os.PathLike | None = None):
        self.host = host
        self.pid = os.getpid()
        self.start = _process_start(host, self.pid)
        # The owner is in the names of its namespaces, so that any run, whatever its ledger directory, can tell a
        # live run's namespace from a dead one's.
        self.token = f"{self.pid}-{self.start or 0}-{uuid.uuid4().hex[:4]}"
        self.path = state_dir(directory) / f"network-{self.token}.json"
        self.ports: dict[str, dict[str, Any]] = {}  # name -> {"original": PortState dict, "netns": str|None}
        self.namespaces: list[str] = []

    def netns_name(self, suffix: str) -> str:
        return f"{NETNS_PREFIX}{self.token}-{suffix}"

    def remember(self, state: PortState) -> None:
        """Record the port's original state, once: the first state seen is the one to go back to."""
        if state.name not in self.ports:
            self.ports[state.name] = {"original": state.to_dict(), "netns": None}
            self.save()

    def original(self, name: str) -> PortState | None:
        entry = self.ports.get(name)
        return PortState.from_dict(entry["original"]) if entry else None

    def set_netns(self, name: str, netns: str | None) -> None:
        self.ports[name]["netns"] = netns
        self.save()

    def add_namespace(self, netns: str) -> None:
        if netns not in self.namespaces:
            self.namespaces.append(netns)
            self.save()

    def drop_namespace(self, netns: str) -> None:
        if netns in self.namespaces:
            self.namespaces.remove(netns)
            self.save()

    def announce(self, port: str, what: str) -> None:
        announce_change(port, what, self.path.parent)

    def forget(self, name: str) -> None:
        self.ports.pop(name, None)
        self.save()

    def save(self) -> None:
        data = {
            "pid": self.pid,
            "start": self.start,
            "token": self.token,
            "written": time.time(),
            "namespaces": self.namespaces,
            "ports": self.ports,
        }
        write_atomically(self.path, json.dumps(data, indent=1), durable=True)

    def remove(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


def _owner_alive(host: Host, pid: Any, start: Any) -> bool:
    """Whether the process that wrote a ledger or named a namespace still runs (this process counts as dead:
    it recovers before it changes anything)."""
    if not isinstance(pid, int) or pid == os.getpid():
        return False
    now = _process_start(host, pid)
    return now is not None and now == start


def _ledger_owner_alive(host: Host, data: Mapping[str, Any]) -> bool:
    return _owner_alive(host, data.get("pid"), data.get("start"))


def _netns_owner_alive(host: Host, name: str) -> bool:
    """`burnin-PID-START-xxxx-0a`: is PID (started at START) still running?"""
    parts = name[len(NETNS_PREFIX):].split("-")
    if len(parts) < 2 or not parts[0].isdigit():
        return False
    return _owner_alive(host, int(parts[0]), parts[1])


# -- changing the machine -----------------------------------------------------------------------------
def _must(result: CommandResult, what: str) -> CommandResult:
    if not result.ok:
        detail = result.error or result.stderr.strip() or f"exit {result.returncode}"
        raise NetnsError(f"{what}: `{' '.join(result.argv)}` failed: {detail}")
    return result


def create_netns(run: Run, name: str) -> None:
    _must(run(["ip", "netns", "add", name]), f"cannot create namespace {name}")


def delete_netns(run: Run, name: str) -> CommandResult:
    return run(["ip", "netns", "delete", name])


def move_into(run: Run, port: str, netns: str) -> None:
    _must(run(["ip", "link", "set", "dev", port, "netns", netns]), f"cannot move {port} into {netns}")


def configure(run: Run, netns: str, port: str, cidr: str) -> None:
    """Address the port inside its namespace and bring it (and the namespace's loopback) up."""
    _must(run(_ip(netns, "addr", "add", cidr, "dev", port)), f"cannot address {port}")
    _must(run(_ip(netns, "link", "set", "dev", port, "up")), f"cannot bring {port} up")
    run(_ip(netns, "link", "set", "dev", "lo", "up"))


def set_up(run: Run, port: str, up: bool, netns: str | None = None) -> CommandResult:
    return run(_ip(netns, "link", "set", "dev", port, "up" if up else "down"))


def _find_device(host: Host, original: PortState, netns: str | None) -> tuple[str | None, str | None]:
    """Where the port is now: (namespace or None for ours, current name); (None, None) when it is nowhere."""
    places = ([netns] if netns else []) + [None]
    for place in places:
        if place and place not in list_netns(host):
            continue
        links = list_links(host, place)
        for link in links:
            if link.get("ifname") == original.name:
                return place, original.name
        for link in links:  # renamed (the kernel renames a device that comes back to a taken name)
            if original.mac and link.get("address") == original.mac and link.get("link_type") == "ether":
                return place, str(link.get("ifname"))
    return None, None


def restore_port(host: Host, run: Run, original: PortState, netns: str | None) -> list[str]:
    """Put the port back into our namespace with its original name, MTU, addresses and up/down state.

    Returns what could not be restored (empty: all of it). Never raises for `ip` trouble: a restore goes as far
    as it can."""
    problems: list[str] = []
    where, current = _find_device(host, original, netns)
    if current is None:
        return [f"{original.name} was not found in {netns or 'the root namespace'} nor in the root namespace"]
    if where is not None:
        set_up(run, current, False, where)
        if current != original.name:
            run(_ip(where, "link", "set", "dev", current, "name", original.name))
            current = original.name
        # "netns PID": the namespace of this process, which is the one the port came from
        result = run(_ip(where, "link", "set", "dev", current, "netns", str(os.getpid())))
        if not result.ok:
            return [f"{original.name} could not be moved back from {where}: {result.stderr.strip() or result.error}"]
    elif current != original.name:
        set_up(run, current, False)
        if not run(["ip", "link", "set", "dev", current, "name", original.name]).ok:
            problems.append(f"{current} could not be renamed back to {original.name}")
        else:
            current = original.name
    now = read_port_state(host, current, run=run)
    if now is None:
        return problems + [f"{original.name} vanished while being restored"]
    if original.mtu and now.mtu != original.mtu:
        if not run(["ip", "link", "set", "dev", current, "mtu", str(original.mtu)]).ok:
            problems.append(f"{original.name}: MTU {original.mtu} not restored")
    if original.up and not now.up:
        set_up(run, current, True)
    present = {(a.family, a.local, a.prefixlen) for a in now.addresses}
    for a in original.addresses:
        if (a.family, a.local, a.prefixlen) in present:
            continue
        if a.family == "inet6" and a.scope == "link":
            continue  # the kernel makes the link-local address itself when the port comes up
        argv = ["ip", "addr", "add", a.cidr, "dev", current]
        if a.broadcast and a.family == "inet":
            argv += ["broadcast", a.broadcast]
        if a.scope and a.scope not in ("global", "universe"):
            argv += ["scope", a.scope]
        if a.label and a.label != current and a.family == "inet":
            argv += ["label", a.label]
        result = run(argv)
        if not result.ok and "exists" not in result.stderr:
            problems.append(f"{original.name}: address {a.cidr} not restored: {result.stderr.strip()}")
    if not original.up:
        set_up(run, current, False)
    return problems


def restore_ledger(host: Host, run: Run, ports: Mapping[str, Mapping[str, Any]], namespaces: Iterable[str],
                   directory: str | os.PathLike | None = None) -> tuple[list[str], list[str]]:
    """Restore every port of a ledger and delete its namespaces: (ports restored, problems)."""
    restored, problems = [], []
    for name, entry in ports.items():
        announce_change(name, "restored after an earlier run", directory)
        more = restore_port(host, run, PortState.from_dict(entry["original"]), entry.get("netns"))
        problems.extend(more)
        if not more:
            restored.append(name)
    existing = set(list_netns(host))
    for ns in namespaces:
        if ns in existing:
            problems.extend(_empty_and_delete(host, run, ns))
    return restored, problems


def _empty_and_delete(host: Host, run: Run, netns: str) -> list[str]:
    """Bring every device of a namespace home (down, as nothing says how it was) and delete the namespace.

    Deleting a namespace would send physical ports home by itself, but destroys virtual ones (veth)."""
    problems = []
    for link in list_links(host, netns):
        name = str(link.get("ifname", ""))
        if not name or name == "lo":
            continue
        set_up(run, name, False, netns)
        if not run(_ip(netns, "link", "set", "dev", name, "netns", str(os.getpid()))).ok:
            problems.append(f"{name} could not be moved out of {netns}")
    if not delete_netns(run, netns).ok:
        problems.append(f"namespace {netns} could not be deleted")
    return problems


def recover(host: Host, run: Run, directory: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """Undo what earlier runs that died left behind: each ledger whose process is gone, then any `burnin-*`
    namespace no live run owns. One record per thing done, with its problems."""
    done: list[dict[str, Any]] = []
    live_namespaces: set[str] = set()
    folder = state_dir(directory)
    for path in sorted(folder.glob(LEDGER_GLOB)):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            done.append({"ledger": str(path), "problems": ["unreadable ledger, left in place"]})
            continue
        if _ledger_owner_alive(host, data):
            live_namespaces.update(data.get("namespaces") or ())
            continue
        restored, problems = restore_ledger(host, run, data.get("ports") or {}, data.get("namespaces") or (),
                                             folder)
        done.append({"ledger": str(path), "ports": restored, "namespaces": list(data.get("namespaces") or ()),
                     "problems": problems})
        if not problems:
            path.unlink(missing_ok=True)
    for ns in list_netns(host):
        if ns.startswith(NETNS_PREFIX) and ns not in live_namespaces and not _netns_owner_alive(host, ns):
            moved = [str(link.get("ifname")) for link in list_links(host, ns) if link.get("ifname") != "lo"]
            for port in moved:
                announce_change(port, "taken back from a dead run's namespace", folder)
            done.append({"namespace": ns, "ports": moved, "problems": _empty_and_delete(host, run, ns)})
    return done


# -- finding ports cabled to each other ---------------------------------------------------------------
def _probe_frame(src_mac: bytes, token: bytes) -> bytes:
    payload = b"burnin-pair-probe " + token
    frame = b"\xff" * 6 + src_mac + struct.pack("!H", PROBE_ETHERTYPE) + payload
    return frame.ljust(60, b"\0")  # the minimum Ethernet frame (without FCS)


def _mac_bytes(mac: str | None) -> bytes:
    try:
        return bytes.fromhex((mac or "").replace(":", ""))[:6].ljust(6, b"\0")
    except ValueError:
        return b"\0" * 6


def detect_cabled_pairs(ports: Mapping[str, str | None], wait_s: float = 1.0) -> tuple[list[tuple[str, str]],
                                                                                        dict[str, list[str]]]:
    """Send one probe frame out of each port (name -> MAC) and see which other ports receive it.

    A pair is two ports that each hear the other and no one else: frames that reach several ports went through a
    switch, not a cable. Returns (pairs, who heard whom). Needs root (raw AF_PACKET sockets)."""
    socks: dict[str, socket.socket] = {}
    try:
        for name in ports:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(PROBE_ETHERTYPE))
            s.bind((name, PROBE_ETHERTYPE))
            s.setblocking(False)
            socks[name] = s
        tokens = {name: f"{uuid.uuid4().hex} {name}".encode() for name in ports}
        for name, s in socks.items():
            try:
                s.send(_probe_frame(_mac_bytes(ports[name]), tokens[name]))
            except OSError:
                continue
        by_token = {token: name for name, token in tokens.items()}
        heard: dict[str, set[str]] = {name: set() for name in ports}  # sender -> receivers
        deadline = time.monotonic() + wait_s
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select(list(socks.values()), [], [], left)
            for s in ready:
                receiver = next(n for n, x in socks.items() if x is s)
                try:
                    data, address = s.recvfrom(2048)
                except OSError:
                    continue
                if address[2] == socket.PACKET_OUTGOING:
                    continue
                payload = data[14:].rstrip(b"\0")
                if payload.startswith(b"burnin-pair-probe "):
                    sender = by_token.get(payload[len(b"burnin-pair-probe "):])
                    if sender and sender != receiver:
                        heard[sender].add(receiver)
    finally:
        for s in socks.values():
            s.close()
    pairs = []
    for a, receivers in heard.items():
        if len(receivers) == 1:
            b = next(iter(receivers))
            if heard.get(b) == {a} and a < b:
                pairs.append((a, b))
    return pairs, {k: sorted(v) for k, v in heard.items()}


def pair_addresses(index: int) -> tuple[str, str]:
    """The /30 of pair `index` within 198.18.0.0/15: (first host, second host) with prefix."""
    base = (198 << 24) | (18 << 16) | (index * 4)
    a, b = base + 1, base + 2
    to_text = lambda n: socket.inet_ntoa(struct.pack("!I", n))  # noqa: E731
    return f"{to_text(a)}/30", f"{to_text(b)}/30"


def with_up(state: PortState, up: bool) -> PortState:
    return replace(state, up=up)
