"""Training: compile configuration, step graphs, the onnxruntime training session and the loops."""
from .config import CompileConfig  # noqa: F401
from .graphs import StepGraphs, build_step_graphs  # noqa: F401
