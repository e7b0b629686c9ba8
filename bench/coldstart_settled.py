"""Runs ../shared/tools/coldstart.py unchanged, with one guard between runs.

A `lambda_runtime` binary asks for its next event as soon as it has answered
one. coldstart.py kills the process at that moment, but the poll may already
be in its server's accept queue; when the server thread gets to it after the
next run has started, the dead process is handed the new run's event and the
fresh binary waits 30 s for an event that never comes (the run then fails
with a 410, seen here with the hello-world baseline).

The guard waits SETTLE_SECONDS before each run resets the emulator, outside
the timed region (the clock starts after the reset), so a stray poll is
answered within the run it belongs to. Usage is coldstart.py's own:

    coldstart_settled.py [--coldstart PATH] [coldstart.py arguments...]
"""
import importlib.util
import pathlib
import sys
import time

SETTLE_SECONDS = 0.2


def load(path):
    spec = importlib.util.spec_from_file_location("coldstart", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    args = sys.argv[1:]
    path = pathlib.Path(__file__).resolve().parents[2] / "shared/tools/coldstart.py"
    if args[:1] == ["--coldstart"]:
        path, args = pathlib.Path(args[1]), args[2:]
    coldstart = load(path)
    reset = coldstart.Emulator.reset

    def settled_reset(self, run=0):
        if getattr(self, "server", None) is not None:
            time.sleep(SETTLE_SECONDS)
        reset(self, run)

    coldstart.Emulator.reset = settled_reset
    sys.argv = [str(path)] + args
    coldstart.main()


if __name__ == "__main__":
    main()
