import sys

from safety.cli import main

sys.exit(main())
