"""``python -m gradbox``: see gradbox/cli.py."""

import sys

from gradbox.cli import main

if __name__ == "__main__":
    sys.exit(main())
