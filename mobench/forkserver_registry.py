"""Imported by the runs' forkserver (``mobench.forkserver.PRELOAD``): registers every family
and solver once there, so that each run's child finds them imported."""
from .registry import load_all

load_all()
