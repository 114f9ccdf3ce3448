"""``python -m nlpfootprint``: the same as the ``nlpfootprint`` command."""

import sys

from nlpfootprint.cli import main

if __name__ == "__main__":
    sys.exit(main())
