"""Liquidation curves ("liquidations at risk", as Chaos Labs and Gauntlet chart them): for each
lending market and each collateral asset, the debt that is liquidatable if that asset's
price drops instantly by 5 %, 10 %, ..., 80 %, every other price unchanged - taken from the
book at the start (step 0, positions open) and just before the first shock that moves
markets (the end of the step before it; `sim.shocks.first_shock_step`, so a governance
parameter change made earlier is already in force). `liquidation_curve.parquet`.

Liquidatable is the market's own rule: Aave v3 health factor < 1, HF = sum(collateral x
price x liquidation threshold) / sum(debt x price) (GenericLogic.calculateUserAccountData,
`protocols.lending.health`), at the market's ORACLE prices with the drop applied to the
oracle price: liquidators act on what the market reads. The drop moves the asset wherever
it sits in a position: as collateral (the position gets sicker) and as debt (it gets
healthier - a position borrowing the asset is short it). So a curve rises with the drop
when the asset is only collateral; where positions also borrow it, positions can leave the
liquidatable set as it falls. Correlated assets (stETH with ETH) are not moved together:
that is a scenario's crash, not this curve.

Columns, one row per (snapshot, market, asset, drop):
- `snapshot` ("start" / "pre_shock"), `step` (the book's step: 0, or the step before the
  first shock), `market`, `asset` (a collateral asset some indebted position holds),
  `drop` (fraction of the oracle price, 0 to 0.8; the 0 row is the book as it stands);
- `positions_liquidatable`: positions with HF < 1 at that drop;
- `debt_liquidatable_usd`: their whole debt (a liquidator may repay the close factor of it
  per call), valued at the dropped prices - positions already liquidatable at drop 0
  INCLUDED, so the curve reads "liquidatable if the price were this", and its drop-0 row
  is what no drop is needed for;
- `debt_newly_liquidatable_usd`: the same for the positions that are NOT liquidatable at
  drop 0 - the debt that the drop itself makes liquidatable;
- `collateral_at_risk_usd`: all collateral of the liquidatable positions, at full value
  (no threshold), the dropped asset at its dropped price.

Vectorized over the indebted rows: the book's values as they stand (one matrix-vector
product per side), less the dropped asset's share times each drop (an outer product per
side); no loop over positions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from protocols.errors import InvalidAmount
from protocols.lending import LendingMarket
from protocols.lending.health import ratio_or_inf
from protocols.world import World

START, PRE_SHOCK = "start", "pre_shock"
#: 0, 5 %, ..., 80 %: the drop-0 row is the book as it stands
DROPS = np.round(np.arange(17) * 0.05, 2)
COLUMNS = ["snapshot", "step", "market", "asset", "drop", "positions_liquidatable",
           "debt_liquidatable_usd", "debt_newly_liquidatable_usd", "collateral_at_risk_usd"]
_CURVE = COLUMNS[5:]
_DTYPES = {"snapshot": object, "step": "int64", "market": object, "asset": object,
           "positions_liquidatable": "int64"}


def book_curve(
    collateral: np.ndarray, debt: np.ndarray, collateral_prices: np.ndarray,
    debt_prices: np.ndarray, thresholds: np.ndarray, asset: int, drops: np.ndarray = DROPS,
) -> dict[str, np.ndarray]:
    """The curve of one book for a drop of column `asset`'s price: `collateral` and `debt`
    are (positions x assets) amounts, worth `collateral_prices` / `debt_prices` (USD per
    unit of each column: a market passes scaled balances and index x oracle price),
    `thresholds` the liquidation thresholds (0 where not collateral). Returns the four
    curve columns (module doc), one value per drop."""
    drops = np.asarray(drops, dtype=float)
    if drops.ndim != 1 or not np.all((drops >= 0) & (drops < 1)):
        raise InvalidAmount(f"drops: fractions in [0, 1), got {drops!r}")
    prices = np.asarray(collateral_prices, dtype=float)
    debt_prices = np.asarray(debt_prices, dtype=float)
    weights = prices * np.asarray(thresholds, dtype=float)  # price x LT, as the market folds it
    # only indebted positions can be liquidated, and a drop < 1 leaves a debt > 0
    owed = debt @ debt_prices
    rows = np.flatnonzero(owed > 0)
    collateral, debt, owed = collateral[rows], debt[rows], owed[rows]
    # values as the book stands (the market's own products), less what the drop takes
    # from the dropped asset's share: a rank-one update per side, no product per drop
    held, backing = collateral[:, asset], collateral @ weights
    weighted = backing[:, None] - np.outer(held * weights[asset], drops)
    coll_value = (collateral @ prices)[:, None] - np.outer(held * prices[asset], drops)
    debt_value = owed[:, None] - np.outer(debt[:, asset] * debt_prices[asset], drops)
    liquidatable = ratio_or_inf(weighted, debt_value) < 1.0
    already = ratio_or_inf(backing, owed) < 1.0
    newly = liquidatable & ~already[:, None]
    return {
        "positions_liquidatable": liquidatable.sum(axis=0),
        "debt_liquidatable_usd": (debt_value * liquidatable).sum(axis=0),
        "debt_newly_liquidatable_usd": (debt_value * newly).sum(axis=0),
        "collateral_at_risk_usd": (coll_value * liquidatable).sum(axis=0),
    }


def market_curves(market: LendingMarket, drops: np.ndarray = DROPS) -> pd.DataFrame:
    """`market`'s curves (columns `asset`, `drop` and the curve columns), one per asset that
    can back a loan and that some indebted position holds as collateral."""
    borrow = np.array([market.borrow_index(a) for a in market.assets])
    thresholds = np.array([market.reserves[a].liquidation_threshold
                           * market.reserves[a].usable_as_collateral for a in market.assets])
    collateral, debt = market.collateral_scaled, market.debt_scaled
    indebted = debt @ borrow > 0
    held = collateral[indebted].sum(axis=0) > 0
    assets = np.flatnonzero(held & (thresholds > 0))
    if not assets.size:  # nothing to liquidate: no price needed (a feed may have none yet)
        return pd.DataFrame(columns=["asset", "drop", *_CURVE])
    prices = np.array([market.oracles[a].price for a in market.assets], dtype=float)
    if not np.all(np.isfinite(prices) & (prices > 0)):
        raise InvalidAmount(f"{market.name}: oracle prices must be finite and > 0, got "
                            f"{dict(zip(market.assets, prices.tolist(), strict=True))}")
    liquidity = np.array([market.exchange_rate(a) for a in market.assets])
    parts = []
    for i in assets:
        curve = book_curve(collateral, debt, liquidity * prices, borrow * prices, thresholds,
                           int(i), drops)
        parts.append(pd.DataFrame({"asset": market.assets[i], "drop": drops, **curve}))
    return pd.concat(parts, ignore_index=True)


class LiquidationCurves:
    """The curves of one run's snapshots; `frame()` is `liquidation_curve.parquet`."""

    def __init__(self) -> None:
        self._parts: list[pd.DataFrame] = []

    def take(self, world: World, snapshot: str, step: int) -> None:
        for name, market in world.markets.items():
            curves = market_curves(market)
            curves.insert(0, "market", name)
            curves.insert(0, "step", step)
            curves.insert(0, "snapshot", snapshot)
            self._parts.append(curves)

    def frame(self) -> pd.DataFrame:
        parts = [p for p in self._parts if not p.empty]
        if not parts:
            return pd.DataFrame({c: pd.Series(dtype=_DTYPES.get(c, float)) for c in COLUMNS})
        return pd.concat(parts, ignore_index=True)[COLUMNS].astype(_DTYPES)
