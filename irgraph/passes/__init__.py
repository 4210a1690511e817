"""Graph passes. Each is one module with one entry point: Graph -> Graph, pure, testable alone."""
from .cleanup import cleanup  # noqa: F401
from .lower import lower  # noqa: F401
from .manager import PassManager, inference_pipeline  # noqa: F401
from .shapes import infer_shapes  # noqa: F401
from .trim import trim_borders  # noqa: F401
