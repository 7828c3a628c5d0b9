"""Flex Template entry file: the launcher runs ``python launch.py <pipeline options>``.

A file, not ``-m pipeline.main``, because that is what the launcher executes; it only forwards.
"""

import sys

from pipeline.main import main

if __name__ == "__main__":
    sys.exit(main())
