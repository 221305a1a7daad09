"""`python -m framework_advisor.contract write|check`: regenerate or check the committed openapi.yaml."""

import sys

from framework_advisor.contract.document import main

sys.exit(main(sys.argv[1:]))
