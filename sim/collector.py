"""The run's per-step time series: one value per column per step, kept in plain lists and
turned into a DataFrame once, at the end.

`mesa.DataCollector` does the same job for any reporter kind (lambdas, attribute names,
methods), deep-copying every value it stores: a cost per column per step that a run pays
whether or not anything happened. Every reporter here is a function of the model returning
a number, which needs no copy, so a step's collection is one call and one append per
column. The frame is what `DataCollector.get_model_vars_dataframe` gives: one column per
reporter, in their order, the row number being the collection (step 0 first).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

Reporter = Callable[[Any], Any]


class SeriesCollector:
    """Collects `reporters` (column name -> function of the model) once per call."""

    def __init__(self, reporters: Mapping[str, Reporter]) -> None:
        self.columns: dict[str, list[Any]] = {name: [] for name in reporters}
        self._pairs = [(self.columns[name].append, fn) for name, fn in reporters.items()]
        self._frame: tuple[int, pd.DataFrame] | None = None  # (collections, frame)
        self._count = 0

    def collect(self, model: Any) -> None:
        """Append every column's value now."""
        for append, reporter in self._pairs:
            append(reporter(model))
        self._count += 1

    def latest(self, column: str) -> Any:
        """The value `column` was given at the last collection."""
        return self.columns[column][-1]

    def frame(self) -> pd.DataFrame:
        """Every collection so far, one row each: built once per collection count (a run's
        summary and its outputs both read it), so treat it as read-only. Each column is made
        an array first: pandas infers a list's dtype item by item, numpy in one pass, and
        both give int64 for ints and float64 once a float is among them."""
        if self._frame is None or self._frame[0] != self._count:
            self._frame = (self._count, pd.DataFrame(
                {name: np.asarray(values) for name, values in self.columns.items()}))
        return self._frame[1]
