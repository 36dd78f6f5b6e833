"""The forkserver every run's child process starts from (``runner``): it imports torch and
the engine once, and each run forks from it in milliseconds. ``start()`` launches it at once,
before the command's own imports, so that both import side by side (the runner's ``run``
otherwise starts it at its first run, after the references are ready)."""
from __future__ import annotations

import multiprocessing as mp

# torch and the engine, then every registered family and solver (``mobench.registry.load_all``,
# which each run calls first): the children fork with them imported
PRELOAD = ["mobench.runner", "mobench.evaluate", "torch", "mobench.forkserver_registry"]
_CTX = None


def context():
    global _CTX
    if mp.get_start_method(allow_none=True) not in (None, "fork", "spawn", "forkserver"):
        # inside a loky worker the default start method is 'loky', which a forkserver child
        # cannot re-create when it prepares itself; the runner's children use plain forkserver
        mp.set_start_method("forkserver", force=True)
    if _CTX is None:
        _CTX = mp.get_context("forkserver")
        _CTX.set_forkserver_preload(PRELOAD)
    return _CTX


def start() -> None:
    """Launch this process's forkserver now (it then preloads while the caller goes on)."""
    from multiprocessing import forkserver
    context()
    forkserver.ensure_running()
