"""The backend API, imported as ``K`` (``from irgraph import backend as K``).

Functions compose primitive ops on symbolic tensors inside traced calls (layers, Lambdas, custom
layers, losses); applied to functional-API tensors they record an op layer instead.
"""
from .config import (clear_session, epsilon, floatx, image_data_format, image_dim_ordering,  # noqa: F401
                     normalize_data_format, set_epsilon, set_floatx, set_image_data_format,
                     set_image_dim_ordering)
from .math import *  # noqa: F401,F403
from .math import symbolic  # noqa: F401
from .conv import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
from .random import *  # noqa: F401,F403
from .grad import *  # noqa: F401,F403


def learning_phase() -> int:
    """1 while tracing a training graph, 0 otherwise."""
    from ..ops.trace import active, current
    return int(active() and current().training)


def in_train_phase(x, alt, training=None):
    """``x`` in training graphs, ``alt`` in inference graphs (decided when the graph is traced)."""
    if training is None:
        training = learning_phase()
    chosen = x if training else alt
    return chosen() if callable(chosen) else chosen


def in_test_phase(x, alt, training=None):
    return in_train_phase(alt, x, training)
