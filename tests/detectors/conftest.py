"""Session fixtures of the detector tests."""

from __future__ import annotations

import pytest
from fixture_takes import analyse_fixtures


@pytest.fixture(scope="session")
def analysed():
    """Kind -> (its fixture take's analysis, its injected events), computed once."""
    return analyse_fixtures()
