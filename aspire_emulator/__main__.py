"""`python -m aspire_emulator`: see aspire_emulator.cli."""

import sys

from .cli import main

sys.exit(main())
