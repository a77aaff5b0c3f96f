"""``python -m vnetsim``."""

import sys

from vnetsim.cli import main

sys.exit(main())
