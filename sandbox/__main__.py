"""``python -m sandbox serve|ctl ...`` (see sandbox/cli.py and docs/sandbox.md)."""
from __future__ import annotations

import sys

from sandbox.cli import main

sys.exit(main())
