"""The one home for anything that runs until a deadline: loads, the loop that drives them, and how they stop.

A *load* is something that keeps hardware busy on its own once started: a pool of pinned Python workers
(`WorkerPool`), an external program (`ProgramLoad`, built from a `Program` that an adapter in `burnin/tools/`
describes), or a thread of the module's own process (`ThreadLoad`: a disk read scan). Every load meets the
`Load` protocol:

    start()          begin (spawn the processes)
    poll(timeout)    wait up to `timeout` for something to happen; True while any of its processes runs
    metrics()        what it measured since the last call (may be empty: the module may measure instead)
    stop()           ask it to stop: SIGINT to a program's process group, the stop event to workers
    kill()           what is still running after the grace: SIGKILL (a program's whole process group; a thread
                     cannot be killed and is marked stuck)
    close()          release what it holds (scratch directories, pipes); after the end

`drive(ctx, loads, ...)` is the one loop: it starts the loads, polls them, samples every `interval_s`,
calls the module's `tick` each turn (to handle worker messages, read counters), and ends when the loads
ended by themselves, when `until` passed, or when the phase is stopping (deadline or cancellation,
`ctx.stopping()`). Whatever is still running then is stopped the one way (`stop_loads`): ask, wait the
grace, kill. Each start and stop is a note in the journal ("load started", "load stopped"). The grace is
`STOP_GRACE_S`, or half the profile's `stop_grace` when the context carries a shorter one (`grace_for`).

Modules with more than one engine choose them with `pick_engines` and take turns in `engine_slices`.

Modules keep their plans and their judges; this package imports no module. It is where `subprocess`,
`multiprocessing` and `signal` live for loads: modules ask `describe_exit()`/`exit_signal()` to name how a
process ended.
"""

from burnin.load.driver import (
    STOP_GRACE_S, DriveOutcome, Load, describe_exit, drive, engine_slices, exit_signal, grace_for, pick_engines,
    plan_slices, stop_loads,
)
from burnin.load.pool import WorkerPool
from burnin.load.program import Ended, Program, ProgramLoad
from burnin.load.thread import ThreadLoad

__all__ = [
    "STOP_GRACE_S", "DriveOutcome", "Ended", "Load", "Program", "ProgramLoad", "ThreadLoad", "WorkerPool",
    "describe_exit", "drive", "engine_slices", "exit_signal", "grace_for", "pick_engines", "plan_slices", "stop_loads",
]
