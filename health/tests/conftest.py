import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def _english():
    """Service-level texts (factors, recommendations) are asserted in the English source strings."""
    with translation.override("en"):
        yield
