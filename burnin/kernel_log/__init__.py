"""The kernel log as evidence: a catalogue of kernel hardware-error messages and the judge that applies it.

- `catalogue/`: one table per subsystem; each row a pattern, a code, a severity with its rule, how to name the
  part, and real example lines with their source (`entry.py` defines a row).
- `judge.py`: lines -> catalogue matches -> events (the lines of one report) -> closed events.
- `parts.py`: the part an event is about, named with the inventory.
- `kmsg.py`: /dev/kmsg records, a saved copy of them, and pasted dmesg/journalctl text.
- `offline.py`: a saved kernel log judged as `burnin kmsg FILE` does.
- `corpus.py`: the labelled corpus of real lines the tests and the benchmark score the catalogue on.

The module that follows the live log is `burnin.modules.kernel_log`.
"""
