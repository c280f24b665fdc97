import pytest
import torch


@pytest.fixture(scope="module")
def float64():
    """Checks to near machine precision run in float64; the default dtype is restored for other modules."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)
