import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import irgraph  # noqa: E402
from irgraph import backend as K  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_backend_state():
    """Every test starts channels_last with fresh layer names and a seeded initializer RNG."""
    K.set_image_data_format("channels_last")
    irgraph.clear_session()
    irgraph.set_seed(1234)
    yield
    K.set_image_data_format("channels_last")
