import pytest

from gridgov.cases.tests.factories import make_loop
from gridgov.dashboard.tests.scenario import build_week


@pytest.fixture
def loop(scheme, tree):
    return make_loop(scheme, tree)


@pytest.fixture
def week(loop):
    """The hand-counted week of cases (see scenario.py)."""
    return build_week(loop)
