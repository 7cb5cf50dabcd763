import os
import sys

# The oracle tests share `transition_brute_force`; pytest's importlib mode does not put
# their folder on sys.path, so do it once for the folder (as tests/decoding does).
sys.path.insert(0, os.path.dirname(__file__))
