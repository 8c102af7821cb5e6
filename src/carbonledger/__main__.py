"""``python -m carbonledger`` runs the command line."""

import sys

from carbonledger.cli.main import main

sys.exit(main())
