"""`python -m framework_advisor`: the same command line as the `framework-advisor` script."""

import sys

from framework_advisor.cli import main

sys.exit(main())
