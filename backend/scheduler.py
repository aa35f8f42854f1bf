"""Scheduler entrypoint: `python -m backend.scheduler` or `python backend/scheduler.py`."""

if __package__ in (None, ""):
    # Run as a script: make the checkout importable the way `-m` would.
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.app import run_processes
from backend.util.process import settings_or_exit


def main() -> None:
    settings = settings_or_exit("scheduler")
    # Slow to import: only once the settings are known to be good.
    from backend.schedules.process import Scheduler

    run_processes(Scheduler(settings))


if __name__ == "__main__":
    main()
