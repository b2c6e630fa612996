import sys

from bnguard.cli import main

sys.exit(main())
