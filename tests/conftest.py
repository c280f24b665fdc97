import pytest
import torch


@pytest.fixture(scope="module")
def float64():
    """Checks to near machine precision run in float64; the default dtype is restored for other modules."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def pytest_collection_modifyitems(config, items):
    """Tests marked ``after_nbval`` read what nbval's runs of the notebooks left behind (their
    recorded metrics), so they go last, after the notebooks' own items."""
    late = [item for item in items if item.get_closest_marker("after_nbval")]
    items[:] = [item for item in items if item not in late] + late
