import sys

from hoifit.cli import main

sys.exit(main())
