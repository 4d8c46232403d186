"""The output formats `burnin run` and `burnin report` can write besides the journal, registered once each.

A format registers a name, the command-line option that asks for it and a writer; `run` and `report` offer every
registered format with no per-format code in the CLI:

    register(OutputFormat("junit", "--junit", "JUnit XML", write=write_junit))

`write(summary, contents, path)` writes the file from a finished run (or any journal, for `report`), after the
run, from the journal as read back from disk. A format that is worth watching while a run goes on (Prometheus)
also gives `live(path)`: a reporter the runner feeds during `run` (see `burnin.runner.Reporter`).

The writers import their format's module when called, so that `burnin --help` stays instant.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from burnin.files import write_atomically

Writer = Callable[[Any, Any, str], None]  # (RunSummary, JournalContents, path)


@dataclass(frozen=True)
class OutputFormat:
    name: str  # "junit"
    option: str  # "--junit"; the CLI keyword is the option's name with "_path" ("junit_path")
    help: str  # what the file is, one line
    write: Writer
    live: Callable[[str], Any] | None = None  # a run reporter that keeps the file current during `run`
    live_help: str = ""  # how `run` writes it, when it writes it during the run

    @property
    def keyword(self) -> str:
        return self.option.lstrip("-").replace("-", "_") + "_path"


_FORMATS: dict[str, OutputFormat] = {}


def register(output: OutputFormat) -> OutputFormat:
    """Add a format (or replace one of the same name); returns it."""
    if not output.option.startswith("--"):
        raise ValueError(f"output option must be a long option, not {output.option!r}")
    _FORMATS[output.name] = output
    return output


def unregister(name: str) -> None:
    _FORMATS.pop(name, None)


def registered() -> list[OutputFormat]:
    return list(_FORMATS.values())


def requested(options: dict[str, Any]) -> dict[OutputFormat, str]:
    """Take each registered format's path out of a command's keyword arguments: {format: path} for those asked."""
    wanted = {}
    for output in registered():
        path = options.pop(output.keyword, None)
        if path:
            wanted[output] = path
    return wanted


def write_all(wanted: dict[OutputFormat, str], summary: Any, contents: Any) -> list[str]:
    """Write each wanted output; one that cannot be written (a full disk, a read-only directory) is said in the
    returned lines and the others are still written."""
    problems = []
    for output, path in wanted.items():
        try:
            output.write(summary, contents, path)
        except OSError as exc:
            problems.append(f"cannot write {path}: {exc.strerror or exc}")
    return problems


# -- the built-in formats ---------------------------------------------------------------------------------
def write_junit(summary, contents, path: str | Path) -> None:
    from burnin.report.junit import junit_xml

    write_atomically(path, junit_xml(summary))


def write_html(summary, contents, path: str | Path) -> None:
    from burnin.report.html import write_html as write

    write(summary, contents, path)


def write_prometheus(summary, contents, path: str | Path) -> None:
    from burnin.report.prometheus import latest_samples, prometheus_text

    write_atomically(path, prometheus_text(summary, latest_samples(contents)))


def write_ocp(summary, contents, path: str | Path) -> None:
    from burnin.report.ocp import write_ocp as write

    write(summary, contents, path)


def prometheus_live(path: str):
    from burnin.report.prometheus import PromFileWriter

    return PromFileWriter(path)


def write_wipe_certificate(summary, contents, path: str | Path) -> None:
    from burnin.report.wipe_certificate import write_wipe_certificate as write

    write(summary, contents, path)


register(OutputFormat("junit", "--junit", "JUnit XML", write_junit))
register(OutputFormat("html", "--html", "a self-contained HTML report", write_html))
register(OutputFormat("prometheus", "--prom", "Prometheus text metrics", write_prometheus, live=prometheus_live,
                      live_help="rewritten atomically during the run (name it *.prom)"))
register(OutputFormat("ocp", "--ocp", "OCP Test & Validation output (LDJSON)", write_ocp))
register(OutputFormat("wipe-certificate", "--wipe-certificate", "the wipe certificates as a printable HTML page",
                      write_wipe_certificate))
