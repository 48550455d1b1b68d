"""`python -m fastmlp ...` (also the console script `fastmlp`): see fastmlp.cli."""
from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
