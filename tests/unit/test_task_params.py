"""A daily run's `rebaseline` is a boolean or nothing starts: 1 and 0 (equal to True and False in Python) are
refused with the value quoted, before ASPIRE or the portal is touched."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException

from aspire_portal.tasks import check_aspire_timeline


@pytest.mark.parametrize("value", [1, 0, "true", None, 1.0])
def test_a_rebaseline_that_is_not_a_boolean_is_refused(value):
    with pytest.raises(AirflowFailException, match=f"rebaseline must be true or false, got {value!r}"):
        check_aspire_timeline.function(params={"rebaseline": value})
