"""Process-wide settings of Streamshop's long-running processes: a gunicorn worker
(`gunicorn.conf.py`) and `flask ingest replay` (ingest/cli.py) call them once, after start-up."""

from __future__ import annotations

import gc
import os


def keep_start_up_objects_out_of_full_collections() -> None:
    """Freeze what start-up loaded out of the garbage collector's sight, and run full (generation 2)
    collections GC_FULL_THRESHOLD (1000) times rarer than Python's default of 10.

    A full pass walks every long-lived object: in a worker, thousands of open sockets (each full
    pass stalled them all for up to a second, bench/fanout.py); in the ingest writer, the records
    queued and the batch's rows (three full passes took 0.4–0.6 s of a 50,000-event replay's 2.1 s
    of CPU, bench/ingest.py). What start-up loaded (modules, classes, the app) lives as long as the
    process; young garbage is still collected as usual."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, int(os.environ.get("GC_FULL_THRESHOLD", "1000")))
