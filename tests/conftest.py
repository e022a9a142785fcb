import json
import pathlib

import jax
import pytest

# float64 available everywhere; silent dtype upcasts and rank broadcasting fail loudly.
jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED_REFERENCE = ROOT.parent / "shared" / "reference" / "hh_reference.json"
LOCAL_REFERENCE = ROOT / "tests" / "data" / "hh_reference.json"


@pytest.fixture(scope="session")
def hh_reference():
    """The independent SciPy Radau solution (shared/reference), or the copy in tests/data."""
    path = SHARED_REFERENCE if SHARED_REFERENCE.exists() else LOCAL_REFERENCE
    return json.loads(path.read_text())
