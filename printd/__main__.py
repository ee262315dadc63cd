"""`python -m printd` is the same as the `printd` console script."""
from __future__ import annotations

from printd.cli.main import main

if __name__ == "__main__":
    main()
