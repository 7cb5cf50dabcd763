"""`python -m keras_dlss.cli` (as `python -m keras_dlss`)."""

import sys

from keras_dlss.cli import main

sys.exit(main())
