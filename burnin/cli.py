"""The `burnin` command: parse, call, print. Heavy imports stay inside the commands so --help is instant."""

from __future__ import annotations

import functools
import json
import os
import sys

import click

from burnin import __version__

EXIT_CODES_HELP = """\b
Exit codes: 0 PASS or WARN, 1 FAIL, 2 bad usage/profile/claims,
3 ERROR or INCOMPLETE (something could not be tested, or the run
was cut short), 130 interrupted (Ctrl-C or SIGTERM)."""


def _fail_usage(message: str) -> None:
    from burnin.report.terminal import field

    click.echo(f"burnin: error: {field(message, 2000)}", err=True)
    sys.exit(2)


def friendly_errors(func):
    """Bad input ends in one line on stderr and exit code 2, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from burnin.errors import UsageError

        try:
            return func(*args, **kwargs)
        except UsageError as exc:
            _fail_usage(str(exc))

    return wrapper


def _internal_error(exc: BaseException) -> None:
    """The last guard: an unexpected exception is one line and exit 3 (never 1, the FAIL code); the traceback
    goes to a file to attach to a report, not to the screen."""
    import os
    import tempfile
    import time
    import traceback

    from burnin.report.terminal import field

    where = "(traceback not saved)"
    try:
        name = f"burnin-crash-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{os.getpid()}.txt"
        path = os.path.join(tempfile.gettempdir(), name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", errors="replace") as out:
            out.write(f"burnin {__version__}; argv: {sys.argv!r}\n")
            out.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        where = path
    except Exception:  # noqa: BLE001 - a full or read-only /tmp must not turn the guard into a traceback
        pass
    click.echo(f"burnin: internal error, please report: {where} ({type(exc).__name__}: {field(exc, 200)})",
               err=True)
    sys.exit(3)


class _GuardedGroup(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            click.echo("burnin: interrupted", err=True)
            sys.exit(130)
        except Exception as exc:  # noqa: BLE001 - see _internal_error
            _internal_error(exc)


def _say_problems(contents, shown: int = 10) -> None:
    """The journal records left out for their shape, one line each on stderr (the first few)."""
    from burnin.report.terminal import field

    for problem in contents.problems[:shown]:
        click.echo(f"burnin: {field(problem, 300)}", err=True)
    if len(contents.problems) > shown:
        click.echo(f"burnin: ... and {len(contents.problems) - shown} more records ignored", err=True)


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


@click.group(cls=_GuardedGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="burnin")
def main() -> None:
    """burnin: burn-in and hardware diagnostics for servers you are about to buy, just bought, or run.

    \b
    At the seller's:   burnin run --profile seller      (30 min, never writes to disks)
    Instant checks:    burnin check                     (inventory and health, seconds)
    After purchase:    burnin run --profile soak        (24 h)
    Read a journal:    burnin report JOURNAL.jsonl
    """


class _WithOutputs(click.Command):
    """A command that also offers every registered output format (burnin.report.outputs) as `--OPTION FILE`,
    placed before --json; the callback receives each as `NAME_path`."""

    during_run = False  # `run` and `check`: "Also write ... here"; a format written live says how

    def get_params(self, ctx):
        from burnin.report.outputs import registered

        params = super().get_params(ctx)
        at = next((i for i, p in enumerate(params) if p.name == "as_json"), len(params))
        extra = []
        for output in registered():
            if self.during_run:
                text = f"Also write {output.help} here" + (f", {output.live_help}." if output.live_help else ".")
            else:
                text = f"Write {output.help} here."
            extra.append(click.Option([output.option, output.keyword], default=None, metavar="FILE", help=text))
        return params[:at] + extra + params[at:]


class _RunCommand(_WithOutputs):
    during_run = True


def run_options(func):
    options = [
        click.option("--profile", "profile_name", default=None, metavar="NAME|PATH",
                     help="Built-in profile (see `burnin profiles`) or a TOML file. Default: seller for run, "
                          "quick for check."),
        click.option("--duration", default=None, metavar="DURATION",
                     help="Length of the stress phase, e.g. 90s, 30m, 24h (overrides the profile)."),
        click.option("--only", default=None, metavar="A,B", help="Run only these modules."),
        click.option("--skip", default=None, metavar="A,B", help="Do not run these modules."),
        click.option("--journal", "journal_path", default=None, metavar="PATH",
                     help="Journal file, or a directory for it. Default: ./burnin-HOST-UTCTIME.jsonl"),
        click.option("--sysroot", default=None, metavar="DIR",
                     type=click.Path(exists=True, file_okay=False),
                     help="Judge a captured /sys, /proc and SMBIOS tree instead of this machine "
                          "(stress modules SKIP)."),
        click.option("--expect", "expect_path", default=None, metavar="FILE",
                     help="Claims file (TOML): what the listing promised; every mismatch FAILs. "
                          "`burnin inventory --expect-template` writes one from a machine."),
        click.option("--json", "as_json", is_flag=True,
                     help="Print one JSON object with the verdict on stdout at the end."),
        click.option("--plain", is_flag=True,
                     help="Plain timestamped progress lines (the default when stderr is not a terminal)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@main.command(cls=_RunCommand)
@run_options
@click.option("--destructive", "destructive", multiple=True, metavar="DEVICE",
              help="DESTROYS ALL DATA on DEVICE: write-verify it, then wipe it: the drive's own sanitize or secure "
                   "erase where it has one, else zeros (a wipe certificate goes in the journal). Repeatable. Needs --yes-destroy-data with its serial and a profile with "
                   "disk_writes = true; never the system disk or a mounted or used one.")
@click.option("--yes-destroy-data", "yes_destroy_data", multiple=True, metavar="SERIAL",
              help="The serial number of each --destructive device, as consent to destroy its data.")
@friendly_errors
def run(**options) -> None:
    """Preflight checks, then stress everything at once while watching, then the verdict.

    The journal (JSON Lines) is written and fsynced as the run goes, so it survives a crash or a
    power cut; `burnin report` reads it back.
    """
    _execute("run", **options)


run.help += "\n\n" + EXIT_CODES_HELP


@main.command(cls=_RunCommand)
@run_options
@friendly_errors
def check(**options) -> None:
    """The same run without the stress phase: inventory and instant health checks, in seconds."""
    _execute("check", **options)


check.help += "\n\n" + EXIT_CODES_HELP


def _load_profile(name: str, classes):
    from burnin import profile as profiles

    return profiles.load(name, {name: cls.setting_specs() for name, cls in classes.items()})


def _reporter(plain: bool):
    """The live dashboard on a terminal; plain timestamped lines otherwise (serial log, CI, a pipe)."""
    from burnin.report.plain import PlainReporter

    if plain or not sys.stderr.isatty() or os.environ.get("TERM", "") in ("", "dumb"):
        return PlainReporter()  # a dumb terminal cannot redraw a dashboard
    from burnin.report.dashboard import DashboardReporter

    return DashboardReporter()


class _FanOut:
    """Send every reporter event to several reporters (the screen and any output written live)."""

    def __init__(self, *reporters):
        self.reporters = [r for r in reporters if r is not None]

    def __getattr__(self, name):
        def call(*args, **kwargs):
            for reporter in self.reporters:
                getattr(reporter, name)(*args, **kwargs)
        return call


def _load_claims(path: str | None):
    if path is None:
        return None
    from burnin.inventory.claims import load_claims

    return load_claims(path)


def _destructive_profile(profile, host, destructive, yes_destroy_data, selected):
    """The profile with the disk module's `destructive_devices` set from the user's consent, checked before any
    journal exists; UsageError (one line) on any refusal."""
    import dataclasses

    from burnin.errors import UsageError
    from burnin.modules import disk

    if profile.settings_for("disk").get("destructive_devices"):
        raise UsageError("settings.disk.destructive_devices may only be set by --destructive and --yes-destroy-data")
    if not destructive and not yes_destroy_data:
        return profile
    if not destructive:
        raise UsageError("--yes-destroy-data needs --destructive DEVICE")
    if destructive and not yes_destroy_data:
        raise UsageError("--destructive needs --yes-destroy-data SERIAL (the serial number of each device)")
    if not profile.disk_writes:
        raise UsageError(f"--destructive: profile {profile.name!r} never writes to disks (disk_writes = false); "
                         "use a profile with disk_writes = true")
    if "disk" not in selected:
        raise UsageError("--destructive needs the disk module, which is not selected")
    try:
        consented = disk.destructive_consent(host, destructive, yes_destroy_data)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    settings = {**profile.module_settings, "disk": {**profile.settings_for("disk"), "destructive_devices": consented}}
    return dataclasses.replace(profile, module_settings=settings)


def _check_journal_room(path, profile, mode: str) -> None:
    """Refuse (one line, exit 2) a run whose journal may not fit where it goes: better now than INCOMPLETE later."""
    import os

    from burnin.errors import UsageError
    from burnin.sampling import planned_journal_bytes

    directory = path.parent
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent
    try:
        room = os.statvfs(directory)
    except OSError:
        return  # the writer says what is wrong with the place
    free = room.f_bavail * room.f_frsize
    seconds = (profile.duration_s if mode == "run" else 0.0) + profile.check_timeout_s + profile.finish_timeout_s
    need = planned_journal_bytes(seconds, os.cpu_count() or 1, profile.journal_max_mb * 1e6)
    if free < need:
        raise UsageError(f"{free / 1e6:.1f} MB free, and the journal may need up to {need / 1e6:.1f} MB "
                         f"(journal_max_mb = {profile.journal_max_mb:g}): free some space or give --journal "
                         "another place", file=str(directory))


def _execute(mode: str, profile_name, duration, only, skip, journal_path, sysroot, expect_path, as_json, plain,
             destructive=(), yes_destroy_data=(), **output_paths):
    import dataclasses

    from burnin import journal as journals
    from burnin.errors import UsageError
    from burnin.host import Host
    from burnin.model import ExitCode, exit_code_for
    from burnin.profile import parse_duration
    from burnin.registry import module_classes
    from burnin.report import outputs
    from burnin.report.text import use_colour, verdict_block
    from burnin.runner import Runner

    classes = module_classes()
    profile = _load_profile(profile_name or ("seller" if mode == "run" else "quick"), classes)
    if duration is not None:
        try:
            profile = dataclasses.replace(profile, duration_s=parse_duration(duration))
        except ValueError as exc:
            raise UsageError(f"--duration: {exc}") from None
    if mode == "run" and profile.duration_s <= 0:
        # A stress phase of no time loads nothing, and its modules would PASS having tested nothing.
        raise UsageError(f"{'--duration' if duration is not None else 'profile ' + profile.name}: "
                         "the stress phase needs a duration above 0 s (use check for no stress phase)")

    selected = profile.selected(sorted(classes))
    for option, names in (("--only", _split(only)), ("--skip", _split(skip))):
        unknown = [n for n in names if n not in classes]
        if unknown:
            raise UsageError(f"{option}: unknown module {', '.join(map(repr, unknown))} "
                             f"(known: {', '.join(sorted(classes))})")
    if only:
        selected = _split(only)
    selected = [m for m in selected if m not in _split(skip)]
    if not selected:
        raise UsageError("no modules selected")

    claims = _load_claims(expect_path)
    host = Host(sysroot or "/")
    profile = _destructive_profile(profile, host, destructive, yes_destroy_data, selected)
    _check_journal_room(journals.resolve_path(journal_path), profile, mode)
    writer = journals.JournalWriter(journals.resolve_path(journal_path), sample_flush_s=profile.sample_flush_s)
    wanted = outputs.requested(output_paths)
    live = [output.live(path) for output, path in wanted.items() if output.live is not None]
    reporter = _FanOut(_reporter(plain or profile.plain), *live)
    runner = Runner(profile, classes, selected, host, writer, reporter, mode=mode, argv=sys.argv[1:],
                    claims=claims)
    try:
        summary = runner.execute()
    finally:
        reporter.close()

    click.echo(verdict_block(summary, colour=use_colour(sys.stderr)), err=True)
    if wanted:
        # Read back from disk: the runner keeps no samples in memory, and the file is what a report would see.
        for problem in outputs.write_all(wanted, summary, journals.read(writer.path)):
            click.echo(f"burnin: {problem}", err=True)
    if as_json:
        click.echo(json.dumps(summary.to_json(), indent=2))
    if summary.interrupted:
        sys.exit(ExitCode.INTERRUPTED)
    sys.exit(exit_code_for(summary.verdict))


@main.command(cls=_WithOutputs)
@click.argument("journal", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the verdict and findings as one JSON object.")
@friendly_errors
def report(journal: str, as_json: bool, **output_paths) -> None:
    """The verdict and findings of any journal, including one cut short by a crash or power cut."""
    from burnin import journal as journals
    from burnin.model import exit_code_for
    from burnin.report import outputs
    from burnin.report.text import use_colour, verdict_block
    from burnin.verdict import summarize

    contents = journals.read(journal)
    _say_problems(contents)
    summary = summarize(contents, journal=journal)
    for problem in outputs.write_all(outputs.requested(output_paths), summary, contents):
        click.echo(f"burnin: {problem}", err=True)
    if as_json:
        click.echo(json.dumps(summary.to_json(), indent=2))
    else:
        click.echo(verdict_block(summary, colour=use_colour(sys.stdout)))
    sys.exit(exit_code_for(summary.verdict))


report.help += "\n\n" + EXIT_CODES_HELP


@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@click.option("--sysroot", default=None, metavar="DIR", type=click.Path(exists=True, file_okay=False),
              help="Probe against a captured tree instead of this machine.")
@click.option("--settings-table", is_flag=True, help="Print every module's profile settings as a Markdown table.")
@friendly_errors
def modules(as_json: bool, sysroot: str | None, settings_table: bool) -> None:
    """Every registered module, whether it can run on this host, and why not."""
    from burnin.host import Host
    from burnin.registry import discover

    if settings_table:
        from burnin.registry import module_classes
        from burnin.report.settings_table import settings_table as table

        click.echo(table(module_classes()), nl=False)
        return

    host = Host(sysroot or "/")
    rows = []
    for entry in discover():
        row = {"name": entry.name, "available": False, "reason": entry.error, "summary": "", "needs": [],
               "stress": False, "settings": {}}
        if entry.cls is not None:
            cls = entry.cls
            row.update(summary=cls.summary, needs=list(cls.needs), stress=cls.stress,
                       settings={spec.name: spec.to_record() for spec in cls.setting_specs()})
            try:
                probe = cls(host).probe()
                row.update(available=probe.available, reason=probe.reason)
            except Exception as exc:  # noqa: BLE001 - a probe that raises is reported, not fatal
                row.update(reason=f"probe() raised {type(exc).__name__}: {exc}")
            if cls.stress and not host.live:
                row.update(available=False, reason="stress module: nothing to stress in a captured tree")
        rows.append(row)
    if as_json:
        click.echo(json.dumps({"modules": rows}, indent=2))
        return
    from burnin.report.terminal import field

    width = max([12] + [len(field(row["name"], 40)) for row in rows])
    for row in rows:
        state = "yes" if row["available"] else "no "
        kind = "stress " if row["stress"] else "monitor"
        click.echo(f"{field(row['name'], 40):<{width}} {kind} can run: {state} {field(row['summary'])}")
        if row["reason"]:
            click.echo(f"{'':<{width + 9}}{'why: ' if not row['available'] else ''}{field(row['reason'], 2000)}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@friendly_errors
def profiles(as_json: bool) -> None:
    """The built-in profiles with their duration and modules."""
    from burnin import profile as profile_lib
    from burnin.profile import format_duration
    from burnin.registry import module_classes

    classes = module_classes()
    rows = []
    for name in profile_lib.builtin_names():
        loaded = _load_profile(name, classes)
        rows.append({
            "name": loaded.name,
            "description": loaded.description,
            "duration_s": loaded.duration_s,
            "modules": loaded.selected(sorted(classes)),
            "required": list(loaded.required),
            "disk_writes": loaded.disk_writes,
            "source": loaded.source,
        })
    if as_json:
        click.echo(json.dumps({"profiles": rows}, indent=2))
        return
    for row in rows:
        click.echo(f"{row['name']:<8} {format_duration(row['duration_s']):>6}  {row['description']}")
        click.echo(f"{'':<16}modules: {', '.join(row['modules'])}")


@main.command()
@click.argument("journal_a", type=click.Path(dir_okay=False))
@click.argument("journal_b", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@click.option("--temp-rise-c", type=float, default=5.0, show_default=True,
              help="A peak temperature this much higher in B is a warning.")
@click.option("--throughput-drop-pct", type=float, default=10.0, show_default=True,
              help="A throughput this much lower in B is a warning.")
@friendly_errors
def compare(journal_a: str, journal_b: str, as_json: bool, temp_rise_c: float, throughput_drop_pct: float) -> None:
    """What changed between two runs of the same machine (the seller run and the home soak): swapped or
    missing DIMMs, CPUs, disks and NICs, new findings, hotter peaks, lower throughput."""
    from burnin import journal as journals
    from burnin.report.compare import compare as compare_runs

    contents_a, contents_b = journals.read(journal_a), journals.read(journal_b)
    _say_problems(contents_a)
    _say_problems(contents_b)
    result = compare_runs(contents_a, contents_b, temp_rise_c, throughput_drop_pct)
    click.echo(json.dumps(result.to_json(), indent=2) if as_json else result.text())
    # Records left out may have held a difference: "no difference" would not be honest then.
    sys.exit(3 if result.exit_code == 0 and (contents_a.problems or contents_b.problems) else result.exit_code)


compare.help += "\n\n" + EXIT_CODES_HELP


@main.command()
@click.option("--json", "as_json", is_flag=True, help="The whole inventory as one JSON object on stdout.")
@click.option("--sysroot", default=None, metavar="DIR", type=click.Path(exists=True, file_okay=False),
              help="Read a captured tree instead of this machine.")
@click.option("--dmidecode", "dmidecode_path", default=None, metavar="FILE", type=click.Path(dir_okay=False),
              help="Describe the machine of a `dmidecode` text dump (what a seller can send before you travel).")
@click.option("--expect", "expect_path", default=None, metavar="FILE",
              help="Check the claims in this TOML file; exit 1 if any does not hold.")
@click.option("--expect-template", is_flag=True, help="Print a claims file filled in from this machine, to edit.")
@friendly_errors
def inventory(as_json: bool, sysroot: str | None, dmidecode_path: str | None, expect_path: str | None,
              expect_template: bool) -> None:
    """What is really in the box: system, CPUs, every DIMM slot, disks, NICs, PCIe devices."""

    from burnin.errors import UsageError
    from burnin.host import Host
    from burnin.inventory import SmbiosError, collect, inventory_findings
    from burnin.inventory.claims import check_claims, claims_template
    from burnin.report.inventory_text import inventory_text

    claims = _load_claims(expect_path)
    text = None
    if dmidecode_path:
        from burnin.inputs import TOOL_OUTPUT_MAX_BYTES, read_input_text

        text = read_input_text(dmidecode_path, "dmidecode dump", TOOL_OUTPUT_MAX_BYTES, errors="replace")
    try:
        found = collect(Host(sysroot or "/"), dmidecode_text=text)
    except SmbiosError as exc:
        raise UsageError(str(exc), file=dmidecode_path) from None
    if expect_template:
        click.echo(claims_template(found), nl=False)
        return
    checks = check_claims(claims, found) if claims is not None else []
    findings = inventory_findings(found)
    if as_json:
        click.echo(json.dumps({"inventory": found.to_dict(), "claims": [c.to_dict() for c in checks],
                               "findings": [f.to_record() for f in findings]}, indent=2))
    else:
        click.echo(inventory_text(found, checks, findings))
    sys.exit(1 if any(c.ok is False for c in checks) else 0)


@main.command()
@click.argument("reports", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@click.option("--profile", "profile_name", default="seller", metavar="NAME|PATH", show_default=True,
              help="Profile whose [settings.disk] thresholds judge the reports.")
@friendly_errors
def smart(reports: tuple[str, ...], as_json: bool, profile_name: str) -> None:
    """Judge saved smartctl reports (`smartctl -x`/`-a` text, or `smartctl -j` JSON) with the rules of a
    live run: what a seller can send before you travel."""
    from burnin.model import Verdict, exit_code_for
    from burnin.modules.disk import judge_reports
    from burnin.registry import module_classes

    profile = _load_profile(profile_name, module_classes())
    results = judge_reports(reports, settings=profile.settings_for("disk"))
    order = [Verdict.PASS, Verdict.WARN, Verdict.ERROR, Verdict.FAIL]
    worst = max((r.verdict for r in results), key=order.index, default=Verdict.ERROR)
    if as_json:
        click.echo(json.dumps({"verdict": worst.value, "reports": [
            {"path": r.path, "verdict": r.verdict.value, "reason": r.reason,
             "findings": [f.to_record() for f in r.findings]} for r in results]}, indent=2))
    else:
        from burnin.report.terminal import field, message

        for r in results:
            click.echo(f"{r.verdict.value:<5} {field(r.path)}" + (f": {message(r.reason)}" if r.reason else ""))
            for f in r.findings:
                if f.severity.value != "info":
                    click.echo(f"      {f.severity.value.upper()} {field(f.component)}: {message(f.message)}")
            for f in r.findings:  # what was read, quirks discounted, and the history block (issue 17)
                if f.severity.value == "info" and f.code in ("smart-seen", "smart-quirk-discounted", "drive-history"):
                    click.echo(f"      {f.code.split('-', 1)[1]}: {message(f.message)}")
    sys.exit(exit_code_for(worst))


smart.help += "\n\n" + EXIT_CODES_HELP


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@friendly_errors
def kmsg(file: str, as_json: bool) -> None:
    """Judge a saved kernel log FILE (`dmesg`, `dmesg -T`, `journalctl -k`, kern.log, or `-` for stdin) with the
    kernel-log catalogue of a live run: paste the seller's log before you travel."""
    from burnin.errors import UsageError
    from burnin.kernel_log.offline import judge_text
    from burnin.model import Verdict, exit_code_for

    try:
        if file == "-":
            text = sys.stdin.read()
        else:
            with open(file, encoding="utf-8", errors="replace") as f:
                text = f.read()
    except OSError as exc:
        raise UsageError(f"cannot read the kernel log: {exc.strerror or exc}", file=file) from exc
    if "\0" in text[:4096]:
        raise UsageError("not a text kernel log (binary data); save it with `dmesg > FILE` or `journalctl -k > FILE`",
                         file=file)
    result = judge_text(text.splitlines())
    if result.lines == 0:
        raise UsageError("no kernel log lines in this file", file=file)
    verdict = {"fail": Verdict.FAIL, "warn": Verdict.WARN}.get(getattr(result.worst, "value", ""), Verdict.PASS)
    if as_json:
        click.echo(json.dumps({"verdict": verdict.value, "lines": result.lines, "findings": [
            {"severity": f.severity.value, "component": f.component, "code": f.code, "message": f.message,
             "evidence": f.evidence} for f in result.findings]}, indent=2))
    else:
        click.echo(f"{verdict.value:<5} {file}: {result.lines} kernel lines, {len(result.findings)} hardware-error "
                   f"event(s)")
        for f in result.findings:
            click.echo(f"      {f.severity.value.upper()} {f.component} {f.code}: {f.message}")
            for line in f.evidence["lines"][:8]:
                click.echo(f"          | {line}")
            if len(f.evidence["lines"]) > 8:
                click.echo(f"          | ... {len(f.evidence['lines']) - 8} more line(s)")
            if f.evidence.get("unmapped"):
                click.echo(f"          (part not mapped: {f.evidence['unmapped']})")
    sys.exit(exit_code_for(verdict))


kmsg.help += "\n\n" + EXIT_CODES_HELP


@main.command()
@click.argument("out", type=click.Path())
@friendly_errors
def capture(out: str) -> None:
    """Capture what the inventory and the health checks read on this machine into OUT (a new directory, or
    a .tar.gz), command outputs included, to attach to a bug report or judge elsewhere with --sysroot OUT."""
    from burnin.capture import capture as capture_machine
    from burnin.registry import module_classes

    manifest = capture_machine(out, module_classes())
    click.echo(f"captured {manifest['files_copied']} files and {len(manifest['commands'])} command outputs "
               f"into {out}", err=True)


# -- fleets (issue 23) ---------------------------------------------------------------------------------------
@main.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--out", "page_path", default=None, metavar="FILE",
              help="Write the fleet page here (default: a page named fleet in DIRECTORY).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout: every machine, the counts.")
@click.option("--title", default="burnin fleet", show_default=True, help="The page's title.")
@friendly_errors
def fleet(directory: str, page_path: str | None, as_json: bool, title: str) -> None:
    """One page over many journals: a row per machine (the latest run of each), failures first, the count per
    verdict and the most common failing parts. Reads the stick's runs/ folders, Ansible's results/HOST/ and
    Ironic's agent log tarballs (*.tar.gz) anywhere under DIRECTORY.

    Exit 1 if any machine FAILed, 3 if one could not be tested or its journal is unreadable, else 0."""
    from burnin.report.fleet import collect, default_page, fleet_text, write_fleet_page

    found = collect(directory)
    if not found.machines:
        from burnin.errors import UsageError

        raise UsageError("no burnin journal under this directory", file=directory)
    page = page_path or default_page(directory)
    try:
        write_fleet_page(found, page, title=title, root=os.path.abspath(directory))
    except OSError as exc:
        from burnin.errors import UsageError

        raise UsageError(f"cannot write the page: {exc.strerror or exc}", file=page) from None
    if as_json:
        click.echo(json.dumps({**found.to_json(), "page": page}, indent=2))
    else:
        click.echo(fleet_text(found))
        click.echo(f"page: {page}", err=True)
    verdicts = {m.verdict for m in found.machines}
    sys.exit(1 if "FAIL" in verdicts else 3 if verdicts - {"PASS", "WARN"} else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
