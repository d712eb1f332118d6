import pandas as pd
import pytest

from pipeline.labels import as_strings, fill_labels, plain_groups, plain_labels

VALUES = ["b", None, "a", "b", "c"]


@pytest.mark.parametrize("dtype", [object, pd.CategoricalDtype(["c", "b", "a", "unused"])])
def test_helpers_read_the_same_for_strings_and_categoricals(dtype):
    values = pd.Series(VALUES, dtype=dtype, name="reason")
    other = pd.Series(["x", "y", "x", "x", "y"], dtype=dtype if dtype is object else "category", name="channel")
    counts = plain_groups(pd.DataFrame({"reason": values, "channel": other}).groupby(["reason", "channel"], observed=True).size())
    assert counts.to_dict() == {("a", "x"): 1, ("b", "x"): 2, ("c", "y"): 1}  # sorted by value, no empty groups
    assert list(counts.index) == sorted(counts.index)
    assert fill_labels(values, "none").astype(object).tolist() == ["b", "none", "a", "b", "c"]
    assert as_strings(values).tolist() == VALUES and as_strings(values).dtype == object
    assert plain_labels(values.to_frame()).dtypes.tolist() == [object]
