import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# dashboard_queries (this folder) and the mixin (monitoring/mixin) importable from the tests
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
