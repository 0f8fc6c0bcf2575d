"""The position book of a lending market: every borrower position is one row of a struct of
arrays, so a read over all positions is one matrix product.

Row p is position p (ids count up from 0 and are never reused: a repaid position keeps its
row); column i is the market's i-th reserve (`LendingMarket.assets`):
- `collateral_scaled[p, i]`: SCALED collateral, the receipt tokens the market's escrow
  holds for the position (times the liquidity index = underlying, AToken.scaledBalanceOf);
- `debt_scaled[p, i]`: SCALED variable debt (times the borrow index = debt with interest,
  VariableDebtToken.scaledBalanceOf);
- `owner[p]`: who opened it; it receives the borrows and repays by default.

`version` counts the writes: a reader that kept the version of its last look knows, with
one integer comparison, whether any row changed since (a liquidator's scan of an unchanged
book is skipped that way).

The book only stores: indices, prices and risk parameters belong to the market, which does
the arithmetic and changes rows through the methods below. Reads return read-only views of
the open rows (a view taken before a position opens does not show it). Storage doubles when
it runs out.
"""

import numpy as np


class PositionBook:
    """Scaled collateral and debt (positions x assets) and the owner of each position."""

    def __init__(self, n_assets: int, capacity: int = 16) -> None:
        self._collateral = np.zeros((capacity, n_assets))
        self._debt = np.zeros((capacity, n_assets))
        self._owner = np.empty(capacity, dtype=object)
        self._count = 0
        self.version = 0
        self._make_views()

    # -- reads ------------------------------------------------------------------------------
    @property
    def count(self) -> int:
        """Positions opened so far (the rows in use)."""
        return self._count

    @property
    def collateral_scaled(self) -> np.ndarray:
        return self._collateral_view

    @property
    def debt_scaled(self) -> np.ndarray:
        return self._debt_view

    @property
    def owner(self) -> np.ndarray:
        return self._owner_view

    def snapshot(self) -> dict[str, list]:
        """The open rows as plain lists (copies): "collateral_scaled", "debt_scaled", "owner"."""
        return {
            "collateral_scaled": self.collateral_scaled.tolist(),
            "debt_scaled": self.debt_scaled.tolist(),
            "owner": self.owner.tolist(),
        }

    # -- writes -----------------------------------------------------------------------------
    def open(self, owner: str) -> int:
        """A new, empty position of `owner`; returns its id."""
        self._grow(1)
        pid = self._count
        self._owner[pid] = owner
        self._count += 1
        self.version += 1
        self._make_views()
        return pid

    def append(
        self, owners: np.ndarray, collateral_scaled: np.ndarray, debt_scaled: np.ndarray
    ) -> np.ndarray:
        """Open n positions at once: position k belongs to `owners[k]` and starts with row k
        of `collateral_scaled` and `debt_scaled` (both n x assets); returns their ids."""
        start, n = self._count, len(owners)
        self._grow(n)
        self._collateral[start : start + n] = collateral_scaled
        self._debt[start : start + n] = debt_scaled
        self._owner[start : start + n] = owners
        self._count += n
        self.version += 1
        self._make_views()
        return np.arange(start, start + n)

    def add_collateral(self, pid: int, i: int, scaled: float) -> None:
        self._collateral[pid, i] += scaled
        self.version += 1

    def set_collateral(self, pid: int, i: int, scaled: float) -> None:
        self._collateral[pid, i] = scaled
        self.version += 1

    def add_debt(self, pid: int, i: int, scaled: float) -> None:
        self._debt[pid, i] += scaled
        self.version += 1

    def set_debt(self, pid: int, i: int, scaled: float) -> None:
        self._debt[pid, i] = scaled
        self.version += 1

    # -- internals --------------------------------------------------------------------------
    def _make_views(self) -> None:
        """The read-only views of the open rows, made once per change of `count` (reads are
        frequent, and a view sees every later write to its rows)."""
        n = self._count
        self._collateral_view = _readonly(self._collateral[:n])
        self._debt_view = _readonly(self._debt[:n])
        self._owner_view = _readonly(self._owner[:n])

    def _grow(self, extra: int) -> None:
        need = self._count + extra
        if need <= len(self._owner):
            return
        capacity = max(2 * len(self._owner), need)
        for attr in ("_collateral", "_debt", "_owner"):
            old = getattr(self, attr)
            new = np.zeros((capacity, *old.shape[1:]), dtype=old.dtype)
            new[: self._count] = old[: self._count]
            setattr(self, attr, new)


def sum_by(group: np.ndarray, amounts: np.ndarray, groups: int) -> np.ndarray:
    """Column sums of `amounts` per group id: (groups x assets)."""
    columns = [np.bincount(group, weights=col, minlength=groups) for col in amounts.T]
    return np.stack(columns, axis=1)


def _readonly(view: np.ndarray) -> np.ndarray:
    view = view.view()
    view.flags.writeable = False
    return view
