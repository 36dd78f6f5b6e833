import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

PLUGINS = str(Path(__file__).with_name("plugins.py"))
os.environ["MOBENCH_PLUGINS"] = PLUGINS  # before mobench loads its registry


@pytest.fixture
def store(tmp_path):
    return tmp_path / "store"


@pytest.fixture
def busy_cpu():
    """``with busy_cpu(): ...`` runs the block while another process spins on the CPU: for the
    tests that a reference's search does not depend on the machine's load."""
    @contextlib.contextmanager
    def hog():
        proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            yield
        finally:
            proc.kill()
            proc.wait()
    return hog
