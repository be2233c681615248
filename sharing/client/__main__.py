import sys

from sharing.client.cli import main

sys.exit(main())
