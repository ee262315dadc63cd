"""printd: print-station controller for ID-card printers (e-KTP, KIA)."""
from __future__ import annotations

__version__ = "0.1.0"
