"""The reliability tests' entry point for worker and API processes: ``python -m armed_cli ARGS``.

Arms the failpoints named in ``FEEDGUARD_FAILPOINTS`` (pauses signal in
``FEEDGUARD_FAILPOINT_DIR``), then runs the feedguard CLI with ``ARGS``. Production code never
reads these variables: ``feedguard`` itself arms nothing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from safety import faults
from safety.cli import main

ENV = "FEEDGUARD_FAILPOINTS"
DIR_ENV = "FEEDGUARD_FAILPOINT_DIR"

if __name__ == "__main__":
    pause_dir = os.environ.get(DIR_ENV)
    faults.arm(os.environ.get(ENV, ""), Path(pause_dir) if pause_dir else None)
    sys.exit(main(sys.argv[1:]))
