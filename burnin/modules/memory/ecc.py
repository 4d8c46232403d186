"""ECC: the EDAC error counters of every DIMM (`burnin.tools.edac`), named by the inventory's slot where possible.

Read in check() (errors since the counters were last reset: boot), every `edac_interval_s` during run() (an
uncorrected error, or corrected ones over the rate, are reported at once) and in finish() (what grew during the
test). Each (counter, code, window) is reported once.
"""

from __future__ import annotations

import re
import time
from typing import Any, Iterable, Mapping, Sequence

from burnin.host import Host, natural_key
from burnin.model import Judgement, Severity
from burnin.module import ModuleContext
from burnin.tools import edac

DURING = "during the test"
SINCE_RESET = "since the counters were last reset (boot)"


def dimms(ctx: ModuleContext) -> list[Any]:
    """The inventory's DIMM list (empty without an inventory)."""
    return [d for d in getattr(getattr(ctx.inventory, "memory", None), "dimms", ()) or ()]


def _norm(label: str) -> str:
    return re.sub(r"[\s_\-#.:]", "", label).lower()


# Intel firmware-style labels (sb_edac, skx_edac, i10nm_edac): CPU_SrcID#1_Ha#0_Chan#0_DIMM#0,
# CPU_SrcID#0_MC#1_Chan#2_DIMM#0. The channel number counts within one home agent / memory controller.
_SRCID = re.compile(
    r"SrcID#(?P<socket>\d+)(?:_(?:Ha|MC)#(?P<controller>\d+))?_Chan#(?P<channel>\d+)_DIMM#(?P<slot>\d+)", re.I)


def match_dimm(label: str | None, dimms: Sequence[Any]) -> tuple[Any | None, str | None]:
    """The inventory DIMM an EDAC label names, and how it was matched; (None, None) when it cannot be told."""
    if not label or not dimms:
        return None, None
    want = _norm(label)
    for d in dimms:
        names = [d.locator or "", f"{d.bank_locator or ''}{d.locator or ''}"]
        if any(n and _norm(n) == want for n in names):
            return d, "label equals the SMBIOS locator"
    for d in dimms:
        if d.locator and len(_norm(d.locator)) >= 3 and re.search(
                rf"(^|[\s_\-]){re.escape(d.locator)}$", label, re.I):
            return d, "label ends with the SMBIOS locator"
    m = _SRCID.search(label)
    if m and not int(m["controller"] or 0):  # a second controller's channels: where they start is not known
        socket, channel, slot = int(m["socket"]), int(m["channel"]), int(m["slot"])
        on_socket = [d for d in dimms if d.place.socket == socket and d.place.channel is not None]
        channels = sorted({d.place.channel for d in on_socket}, key=natural_key)
        if channel < len(channels):
            for d in on_socket:
                if d.place.channel == channels[channel] and d.place.slot == slot + 1:
                    return d, (f"firmware label socket {socket}, channel {channel} (the socket's "
                               f"{channel + 1}. channel, {channels[channel]}), slot {slot}")
    return None, None


def judge_ecc(grown: Sequence[edac.EdacIncrease], hours: float | None, ce_per_hour_fail: float,
              names: Mapping[tuple[str, str], tuple[str, Mapping[str, Any]]], when: str) -> list[Judgement]:
    """Findings for counters that grew. `hours` is the window (None: unknown, so no rate); `when` says which
    window (SINCE_RESET or DURING); `names` maps (key, kind) to (component, place evidence)."""
    out = []
    for inc in grown:
        c = inc.counter
        component, place = names.get((c.key, c.kind), (f"memory-controller:mc{c.mc}", {}))
        where = place.get("slot") or c.label or c.key
        evidence = {"edac_counter": c.key, "edac_label": c.label, "edac_location": c.location,
                    "before": inc.before, "after": inc.after, "increase": inc.delta, "window": when,
                    "window_hours": None if hours is None else round(hours, 3), **place}
        if c.kind == "ue":
            out.append(Judgement(
                Severity.FAIL, component, "ecc-uncorrected",
                f"{where} had {inc.delta} uncorrected memory error{'s' if inc.delta != 1 else ''} {when} "
                "(data was lost: the module or its slot is faulty).", evidence))
            continue
        if hours is not None:
            per_hour = inc.delta / max(hours, 1.0)  # at least an hour: one error in a short run is not a rate
            evidence["per_hour"] = round(per_hour, 2)
            evidence["ce_per_hour_fail"] = ce_per_hour_fail
            if per_hour > ce_per_hour_fail:
                out.append(Judgement(
                    Severity.FAIL, component, "ecc-corrected-rate",
                    f"{where} had {inc.delta} corrected memory errors {when}, {per_hour:.1f} per hour (more than "
                    f"{ce_per_hour_fail:g}): ECC is hiding a failing module.", evidence))
                continue
        out.append(Judgement(
            Severity.WARN, component, "ecc-corrected",
            f"{where} had {inc.delta} corrected memory error{'s' if inc.delta != 1 else ''} {when}: ECC fixed "
            "them, but a healthy module has none.", evidence))
    return out


class EccWatch:
    """The EDAC counters over one module run: the first reading, the last, and what was reported."""

    def __init__(self, host: Host, interval_s: float, ce_per_hour_fail: float):
        self.host = host
        self.interval_s = interval_s
        self.ce_per_hour_fail = ce_per_hour_fail
        self.start: edac.EdacSnapshot | None = None
        self.last: edac.EdacSnapshot | None = None
        self._next = 0.0
        self.reported: dict[tuple[Any, str, Any], str] = {}  # (edac counter, code, window): one finding each
        # Counts burnin caused itself (the EDAC debug decoder naming a miscompare's DIMM): not the machine's errors.
        self.discounted: dict[tuple[str, str], int] = {}

    def discount(self, caused: Iterable[edac.EdacIncrease]) -> None:
        for inc in caused:
            key = (inc.counter.key, inc.counter.kind)
            self.discounted[key] = self.discounted.get(key, 0) + inc.delta

    def grown(self, before: edac.EdacSnapshot, after: edac.EdacSnapshot) -> list[edac.EdacIncrease]:
        """What grew between two readings, less what burnin caused itself."""
        out = []
        for inc in edac.increases(before, after):
            own = self.discounted.get((inc.counter.key, inc.counter.kind), 0)
            if inc.delta - own > 0:
                out.append(edac.EdacIncrease(inc.counter, inc.before + own, inc.after))
        return out

    @property
    def available(self) -> bool:
        return self.start is not None and self.start.available

    def names(self, ctx: ModuleContext, snapshot: edac.EdacSnapshot) -> dict[tuple[str, str], tuple[str, dict]]:
        populated = [d for d in dimms(ctx) if d.populated]
        names = {}
        for key, counter in edac.counters(snapshot).items():
            if counter.key.endswith("/noinfo"):
                names[key] = (f"memory-controller:mc{counter.mc}", {"slot": f"Memory controller mc{counter.mc} "
                                                                             "(DIMM not identified)"})
                continue
            dimm, how = match_dimm(counter.label, populated)
            if dimm is not None:
                place = {"slot": f"DIMM {dimm.name}", "inventory_locator": dimm.locator,
                         "inventory_bank_locator": dimm.bank_locator, "matched_by": how,
                         "dimm_serial": dimm.serial, "dimm_part_number": dimm.part_number}
                names[key] = (f"dimm:{dimm.name}", place)
            else:
                label = counter.label or counter.key
                extra = f" ({counter.location})" if counter.location and counter.label else ""
                names[key] = (f"dimm:{label}", {"slot": f"DIMM {label}{extra}", "matched_by": None})
        return names

    def emit(self, ctx: ModuleContext, judgements: Iterable[Judgement]) -> None:
        for j in judgements:
            key = (j.evidence.get("edac_counter"), j.code, j.evidence.get("window"))
            if key in self.reported:
                continue
            self.reported[key] = j.code
            ctx.report(j)

    def begin(self, ctx: ModuleContext) -> None:
        snapshot = edac.read_edac(self.host)
        self.start = self.last = snapshot
        self._next = time.monotonic() + self.interval_s
        if not snapshot.available:
            ctx.info("memory", "ecc-counters-unavailable",
                     "ECC error counters unavailable: no EDAC driver is loaded, so corrected and uncorrected memory "
                     "errors cannot be seen here (silence is not health).",
                     {"path": edac.EDAC_MC, "edac_core_present": snapshot.present,
                      "hint": "load the EDAC driver for this memory controller (e.g. skx_edac, i10nm_edac, "
                              "amd64_edac) or check the BMC's event log"})
            return
        ctx.note("ecc counters", controllers=len(snapshot.controllers), **edac.totals(snapshot),
                 places=len(edac.counters(snapshot)))

    def poll(self, ctx: ModuleContext, force: bool = False) -> None:
        if self.start is None or not self.start.available:
            return
        now = time.monotonic()
        if not force and now < self._next:
            return
        self._next = now + self.interval_s
        snapshot = edac.read_edac(self.host)
        self.last = snapshot
        totals = edac.totals(snapshot)
        ctx.sample({"ecc_ce_total": totals["ce"], "ecc_ue_total": totals["ue"]})
        grown = self.grown(self.start, snapshot)
        hours = (snapshot.taken_at - self.start.taken_at) / 3600
        limit = self.ce_per_hour_fail
        urgent = [inc for inc in grown if inc.counter.kind == "ue"
                  or inc.delta / max(hours, 1.0) > limit]  # corrected ones wait for finish() unless over the rate
        if urgent:
            self.emit(ctx, judge_ecc(urgent, hours, limit, self.names(ctx, snapshot),
                                          DURING))

    def since_reset(self, ctx: ModuleContext) -> None:
        """What the counters hold already: errors since they were last reset (boot), judged as such."""
        snapshot = self.start
        if snapshot is None or not snapshot.available:
            return
        since_boot = [edac.EdacIncrease(c, 0, c.count) for c in edac.counters(snapshot).values() if c.count > 0]
        resets = [ctl.seconds_since_reset for ctl in snapshot.controllers if ctl.seconds_since_reset]
        hours = min(resets) / 3600 if resets else None
        self.emit(ctx, judge_ecc(since_boot, hours, self.ce_per_hour_fail, self.names(ctx, snapshot), SINCE_RESET))

    def finish(self, ctx: ModuleContext) -> None:
        """What grew during the test, judged once at the end (a rate already reported is not repeated)."""
        if not self.available:
            return
        assert self.start is not None
        snapshot = edac.read_edac(self.host)
        hours = (snapshot.taken_at - self.start.taken_at) / 3600
        grown = self.grown(self.start, snapshot)
        judgements = judge_ecc(grown, hours, self.ce_per_hour_fail, self.names(ctx, snapshot), DURING)
        self.emit(ctx, [j for j in judgements if (j.evidence.get("edac_counter"), "ecc-corrected-rate",
                                                  DURING) not in self.reported])
        ctx.note("ecc counters at the end", **edac.totals(snapshot), grown=[
            {"counter": g.counter.key, "kind": g.counter.kind, "increase": g.delta} for g in grown])

    def hint(self, ctx: ModuleContext) -> dict:
        """Which EDAC counters grew since the last reading: the DIMM that just reported an error, if any."""
        if self.last is None or not self.last.available:
            return {}
        now = edac.read_edac(self.host)
        grown = edac.increases(self.last, now)
        if not grown:
            return {}
        names = self.names(ctx, now)
        return {"edac_grew": [{"counter": g.counter.key, "kind": g.counter.kind, "increase": g.delta,
                               "label": g.counter.label, "component": names.get((g.counter.key, g.counter.kind),
                                                                                ("?",))[0]} for g in grown]}
