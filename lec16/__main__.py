"""``python -m lec16 ...``: the command line of :mod:`lec16.cli`."""

import sys

from lec16.cli import main

sys.exit(main())
