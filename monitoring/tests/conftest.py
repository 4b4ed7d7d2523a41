import os
import sys

# make dashboard_queries importable from the tests
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
