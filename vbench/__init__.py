"""vbench: a plugin-based benchmarking harness for virtual staining."""

from .context import Budget, RunContext
from .dataset import Dataset
from .hookspecs import hookimpl
from .layouts import DatasetLayout
from .metric import DistributionMetric, ImageMetric, Metric
from .sample import Sample
from .stainer import Param, Stainer

__version__ = "0.1.0"
__all__ = [
    "Budget",
    "Dataset",
    "DatasetLayout",
    "DistributionMetric",
    "ImageMetric",
    "Metric",
    "Param",
    "RunContext",
    "Sample",
    "Stainer",
    "hookimpl",
    "__version__",
]
