"""gunicorn.conf.py: what a web worker does once it has loaded the application."""
from __future__ import annotations

import gc
import runpy

from server.config import PROJECT_ROOT


def test_a_worker_freezes_what_it_loaded_so_full_collections_skip_it():
    conf = runpy.run_path(str(PROJECT_ROOT / "gunicorn.conf.py"))
    gc.unfreeze()
    try:
        conf["post_worker_init"](None)
        assert gc.get_freeze_count() > 10_000  # the modules, forms and mappers loaded by now
    finally:
        gc.unfreeze()
