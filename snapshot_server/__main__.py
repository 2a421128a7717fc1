"""``python -m snapshot_server``: the same as the ``snapshot-server`` command."""

import sys

from .cli import main

sys.exit(main())
