"""Re-export of hologram.bench.benchmark_utils, so the notebook's `from benchmark_utils import ...` works."""

from hologram.bench.benchmark_utils import *  # noqa: F401,F403
from hologram.bench.benchmark_utils import __all__  # noqa: F401
