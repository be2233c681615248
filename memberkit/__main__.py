import sys

from memberkit.cli import main

sys.exit(main())
