"""`python -m chainlab.cli`: the `chainlab` command."""

import sys

from chainlab.cli import main

sys.exit(main())
