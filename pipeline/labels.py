"""Label columns (reason, channel, contact_date …) as plain strings or as pandas categoricals.

A store read for the report keeps them categorical (:func:`pipeline.store.read_store`,
``label_categories``): one small code a row instead of an 8-byte pointer, some 42 MB less for a
window of a million contacts. The report must read the same either way, so where a categorical
behaves unlike a column of strings it goes through these helpers:

- a grouping by a categorical sorts its groups in category order, not by value, and without
  ``observed=True`` adds every unobserved category as an empty group: group with
  ``observed=True`` and pass the (small) result through :func:`plain_groups`;
- ``fillna`` with a value that is not a category raises: :func:`fill_labels`;
- small frames that become report tables: :func:`plain_labels`.

Each is a no-op on plain columns, so frames of strings read exactly as before.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def is_categorical(values: pd.Series | pd.Index) -> bool:
    return isinstance(values.dtype, pd.CategoricalDtype)


def as_strings(values: pd.Series) -> pd.Series:
    """A categorical as a column of strings, one object per category, ``None`` where missing
    (what a store read gives without categories); any other column as it is."""
    if not is_categorical(values):
        return values
    strings = np.append(values.cat.categories.to_numpy(dtype=object), None)[values.cat.codes.to_numpy()]
    return pd.Series(strings, index=values.index, name=values.name, dtype=object)


def plain_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its categorical columns as strings (a copy of those columns only): for
    small frames, never for a window of millions."""
    categorical = [name for name, dtype in frame.dtypes.items() if isinstance(dtype, pd.CategoricalDtype)]
    return frame.assign(**{name: as_strings(frame[name]) for name in categorical}) if categorical else frame


def plain_groups(grouped: pd.Series | pd.DataFrame) -> pd.Series | pd.DataFrame:
    """A ``groupby(..., observed=True)`` result keyed by strings and in their order, as a
    grouping by string columns gives it (no-op when no key is categorical)."""
    index = grouped.index
    levels = [index.get_level_values(i) for i in range(index.nlevels)]
    if not any(is_categorical(level) for level in levels):
        return grouped
    if index.nlevels == 1:
        plain = pd.Index(index.astype(object), name=index.name)
    else:
        plain = pd.MultiIndex.from_arrays([level.astype(object) for level in levels], names=index.names)
    return grouped.set_axis(plain).sort_index(kind="mergesort")


def fill_labels(values: pd.Series, value: str) -> pd.Series:
    """``values.fillna(value)`` for a column of strings or a categorical (which gains ``value``
    as a category when it lacks it)."""
    if is_categorical(values) and value not in values.cat.categories:
        values = values.cat.add_categories([value])
    return values.fillna(value)
