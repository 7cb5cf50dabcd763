import sys

from keras_dlss.cli import main

sys.exit(main())
