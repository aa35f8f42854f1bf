"""Scheduler entrypoint: `python -m backend.scheduler` or `python backend/scheduler.py`."""

if __package__ in (None, ""):
    # Run as a script: make the checkout importable the way `-m` would.
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.app import run_processes
from backend.schedules.process import Scheduler


def main() -> None:
    run_processes(Scheduler())


if __name__ == "__main__":
    main()
