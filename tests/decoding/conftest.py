import os
import sys

# Test modules here share `decoding_chains`; pytest's importlib mode does not put
# their folder on sys.path, so do it once for the folder.
sys.path.insert(0, os.path.dirname(__file__))
