"""MLOpsPython's smoke-test command; the smoke test lives in `ml_service.serving.smoke_test`.

python -m ml_service.util.smoke_test_scoring_service --url URL [--key KEY]
"""

import sys

from ml_service.serving.smoke_test import main

if __name__ == "__main__":
    sys.exit(main())
