"""``python -m core.cli``: the same as the ``litelens`` command."""
import sys

from core.cli import main

sys.exit(main())
