import os
from pathlib import Path

import pytest

PLUGINS = str(Path(__file__).with_name("plugins.py"))
os.environ["MOBENCH_PLUGINS"] = PLUGINS  # before mobench loads its registry


@pytest.fixture
def store(tmp_path):
    return tmp_path / "store"
