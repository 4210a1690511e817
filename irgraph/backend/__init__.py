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

from .graph import *  # noqa: F401,F403
from .graph import is_keras_tensor  # noqa: F401  (Keras 2's test, replacing math's)
from .graph_function import function  # noqa: F401
from .keras2 import *  # noqa: F401,F403
