"""Training: step graphs, the onnxruntime training session and the loops. What `compile` was told
is resolved by the user API (`irgraph.compile_config`) and handed to these as data and callables."""
from .graphs import StepGraphs, build_step_graphs  # noqa: F401
