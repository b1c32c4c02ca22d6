import pytest

from tests.e2e.test_local_stack import RunningStack


@pytest.fixture(scope="session")
def stack():
    """One local stack for every e2e test; the last test stops it (Ctrl-C) and checks the exit."""
    running = RunningStack()
    yield running
    running.stop()
