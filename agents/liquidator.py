"""Liquidators: repay unhealthy Aave positions with flash-borrowed money, take the collateral
plus the bonus, and sell it where it nets the most - the feedback loop that turns a crash
into a cascade.

The model calls `step()` once per round (several rounds per step, the oracles updated before
each), so one step is one scan of every market; it never refreshes prices itself.

Funding. The debt asset to repay is flash-borrowed and paid back, with the premium
`flash_loan_fee`, from the sale of the collateral within the same liquidation
(`agents.liquidation_routes`), as on-chain liquidation bots do: the liquidator's own capital
never blocks a profitable liquidation. Its inventory - `capital_usd`, split equally at
off-chain prices over every asset some market lets borrow, under the ledger holder
f"liq:{unique_id}" - pays only for liquidations whose collateral is "kept" rather than sold:
- collateral no route can sell (a lending receipt or an LP token accepted as collateral):
  kept and redeemed at its issuer at the start of later scans, as far as the market's cash
  allows (an LP token always redeems);
- a market without cash of the collateral pays in a-tokens, redeemed the same way;
- collateral that is the debt asset itself repays the debt, no loan needed.
Tradeable collateral is always sold: a bot that kept it would carry its price risk, and
valued at the mid price a kept collateral would always look better than any sale.

Scan. 1. Per market, one health-factor computation finds the positions with HF < 1 and
values them vectorized: the collateral and debt asset of largest oracle value, the close
factor of LiquidationLogic._calculateDebt, seized, repaid and protocol fee from
`liquidation_amounts`. The table is kept with the market's `version` and oracle prices:
while neither changed, the next scan (by any liquidator) reuses it, so a round in which
nothing moved costs a few comparisons, and a round without HF < 1 does no quoting.
2. Estimated profit at off-chain prices (`world.usd`): (seized - fee) x usd(C) - repaid x
usd(D) x (1 + flash fee) - gas. Candidates above 0 are tried in that order.
3. Each is re-priced exactly: the market's own `quote_liquidation`, the best route quoted
for the whole cover; if that loses money, halved covers are quoted (up to `SIZE_HALVINGS`
times, while the estimate at that size still beats gas), since a smaller sale slips less.
4. The first candidate of a (market, collateral, debt) that no size makes profitable ends
that triple for the scan - the others have the same terms and prices and are no larger, so
they are not quoted; the scan ends once every triple in the list is exhausted.
Gas is an accounting cost in `profit_usd` (it leaves the simulated economy, no transfer).

Event "liquidation" (one per liquidation): actor, market, pid, owner (the position's ledger
holder: `treasury`, a cohort wallet `borrowers:7`...), collateral_asset, debt_asset,
health_factor, debt_repaid (debt units), collateral_seized and protocol_fee (collateral
units, fee included in seized), collateral_seized_usd (seized at the off-chain price before
the sale: what the owner lost), received_a_token, route ("pool", "offchain" or "kept"), pool
(the pool's name for route "pool", else None), sold (collateral units sold, 0 when kept),
debt_repaid_usd, flash_fee_usd, profit_usd (proceeds - repayment - flash fee - gas, all at
the off-chain prices before the sale; kept collateral valued at its off-chain price) and
bad_debt (USD value of the debt the liquidation wrote off).
"""

from __future__ import annotations

import weakref
from typing import NamedTuple

import mesa
import numpy as np

from agents import event_kinds
from agents.host import Host
from agents.liquidation_routes import (
    AAVE_V3_FLASH_LOAN_FEE,
    KEPT,
    POOL,
    Sale,
    SaleRoutes,
    flash_borrow,
    flash_repay,
)
from protocols import names
from protocols.lending import LendingMarket, NotLiquidatable, liquidation_amounts
from protocols.validation import check_amount, check_fraction

#: How many times a cover that loses money is halved before the candidate is given up.
SIZE_HALVINGS = 8
#: A sale must clear the flash loan by more than this share of it: the trade can land a few
#: ulps below its quote, and the loan must still be repaid in full.
FLOAT_SLACK = 1e-9


class _Table(NamedTuple):
    """The HF < 1 positions of one market at full cover, valued at its oracle prices."""

    pid: np.ndarray
    c: np.ndarray  # collateral column
    d: np.ndarray  # debt column
    payout: np.ndarray  # collateral to the liquidator (seized - protocol fee)
    repaid: np.ndarray


class _Plan(NamedTuple):
    """One priced liquidation: cover `scale` of the full one, along `sale` (None: kept)."""

    scale: float
    sale: Sale | None
    a_token: bool
    repaid: float  # debt asset the market takes
    premium: float  # flash-loan premium, debt units


#: Each market's last table with its (version, oracle prices): a table depends on the market
#: alone, so every liquidator of a run shares it.
_TABLES: weakref.WeakKeyDictionary[LendingMarket, tuple[tuple, _Table | None]] = (
    weakref.WeakKeyDictionary()
)


class Liquidator(mesa.Agent):
    """A liquidation bot funded by flash loans; see the module doc."""

    def __init__(
        self,
        model: Host,
        capital_usd: float,
        gas_units: int,
        flash_loan_fee: float = AAVE_V3_FLASH_LOAN_FEE,
    ) -> None:
        world = model.world
        capital_usd = check_amount("capital_usd", capital_usd)
        gas_units = check_amount("gas_units", gas_units)
        flash_loan_fee = check_fraction("flash_loan_fee", flash_loan_fee)
        super().__init__(model)
        self.capital_usd = capital_usd
        self.gas_units = gas_units
        self.flash_loan_fee = flash_loan_fee
        self.holder = names.agent(names.LIQUIDATOR, self.unique_id)
        self.routes = SaleRoutes(world)
        borrowable = [
            a
            for a in world.assets
            if any(a in m.reserves and m.reserves[a].borrowable for m in world.markets.values())
        ]
        if capital_usd > 0:
            for asset in borrowable:
                world.fund(self.holder, asset, capital_usd / len(borrowable) / world.usd(asset))

    # -- the step: one scan ----------------------------------------------------------------
    def step(self) -> None:
        """Redeem kept tokens their issuers can pay out again, then scan every market once."""
        self._redeem()
        self._scan()

    def _scan(self) -> int:
        """Try the candidates best estimate first (module doc); returns how many liquidations
        went through."""
        world = self.model.world
        found = [(m, t) for m in world.markets.values() if (t := self._table(m)) is not None]
        if not found:
            return 0
        gas_usd = float(self.model.gas_cost_usd(self.gas_units))
        estimates, keys, pids = [], [], []  # per candidate: (market, collateral, debt), pid
        for k, (market, t) in enumerate(found):
            usd = np.array([world.usd(a) for a in market.assets])
            fee = np.where(t.c == t.d, 0.0, self.flash_loan_fee)
            estimate = t.payout * usd[t.c] - t.repaid * usd[t.d] * (1.0 + fee) - gas_usd
            rows = np.flatnonzero(estimate > 0)
            estimates.append(estimate[rows])
            keys += zip([k] * rows.size, t.c[rows].tolist(), t.d[rows].tolist(), strict=True)
            pids += t.pid[rows].tolist()
        if not keys:
            return 0
        estimate = np.concatenate(estimates)
        remaining, exhausted, done = len(set(keys)), set(), 0
        for i in np.argsort(-estimate, kind="stable").tolist():
            if keys[i] in exhausted:
                continue
            k, c, d = keys[i]
            outcome = self._liquidate(found[k][0], pids[i], c, d, gas_usd)
            if outcome is None:
                continue
            if outcome:
                done += 1
            else:
                exhausted.add(keys[i])
                if len(exhausted) == remaining:
                    break
        return done

    # -- valuing candidates (vectorized, cached per market) --------------------------------
    @staticmethod
    def _table(market: LendingMarket) -> _Table | None:
        """The market's HF < 1 positions (None without any), recomputed only when its
        version or an oracle price changed since the last scan by any liquidator."""
        prices = tuple(market.oracles[a].price for a in market.assets)
        key = (market.version, prices)
        cached = _TABLES.get(market)
        if cached is not None and cached[0] == key:
            return cached[1]
        table = _value(market, np.array(prices, dtype=float))
        _TABLES[market] = (key, table)
        return table

    # -- one liquidation -------------------------------------------------------------------
    def _liquidate(self, market: LendingMarket, pid: int, c: int, d: int, gas_usd: float
                   ) -> bool | None:
        """Re-price position `pid` exactly and liquidate it if some size pays; False when
        none does, None when it is no longer liquidatable with this collateral and debt."""
        collateral, debt = market.assets[c], market.assets[d]
        try:
            quote = market.quote_liquidation(pid, collateral, debt)
        except NotLiquidatable:  # an earlier liquidation or write-off changed the position
            return None
        payout = quote.liquidator_collateral
        if not payout > 0:
            return None
        plan = self._plan(market, collateral, debt, payout, quote.debt_repaid, gas_usd)
        if plan is None:
            return False
        # A part of the cover stays below the collateral cap: the market repays exactly it.
        cover = quote.debt_to_cover if plan.scale == 1.0 else plan.repaid
        self._execute(market, pid, collateral, debt, cover, plan, gas_usd)
        return True

    def _plan(self, market: LendingMarket, collateral: str, debt: str, payout: float,
              repaid: float, gas_usd: float) -> _Plan | None:
        """The most debt-asset-paying route for the full cover, else for halved covers; None
        when no size is profitable after slippage, the flash fee and gas."""
        world = self.model.world
        usd_c, usd_d = world.usd(collateral), world.usd(debt)
        a_token = market.cash(collateral) < payout
        if a_token or debt not in world.reference or not self.routes.sellable(collateral, debt):
            # Kept: repaid from inventory (or, collateral == debt, by the collateral itself).
            need = 0.0 if collateral == debt and not a_token else repaid
            held = world.ledger.balance_of(self.holder, debt)
            scale = 1.0 if need <= held else held / need
            profit = scale * (payout * usd_c - repaid * usd_d) - gas_usd
            if profit <= 0:
                return None
            return _Plan(scale, None, a_token, scale * repaid, 0.0)
        gross = payout * usd_c - repaid * usd_d * (1.0 + self.flash_loan_fee)
        for halvings in range(SIZE_HALVINGS + 1):
            scale = 0.5**halvings
            if scale * gross <= gas_usd:  # even without slippage this size cannot pay gas
                return None
            sale = self.routes.best(collateral, scale * payout, debt)
            if sale is None:
                continue
            premium = scale * repaid * self.flash_loan_fee
            profit = (sale.out - scale * repaid - premium) * usd_d - gas_usd
            if profit > FLOAT_SLACK * scale * repaid * usd_d:
                return _Plan(scale, sale, False, scale * repaid, premium)
        return None

    def _execute(self, market: LendingMarket, pid: int, collateral: str, debt: str,
                 cover: float, plan: _Plan, gas_usd: float) -> None:
        """Flash-borrow, liquidate, sell, repay the loan (or keep the collateral); record."""
        world = self.model.world
        usd_c, usd_d = world.usd(collateral), world.usd(debt)
        sale = plan.sale
        if sale is not None:
            flash_borrow(world, self.holder, debt, plan.repaid)
        result = market.liquidate(
            self.holder, pid, collateral, debt, cover, receive_a_token=plan.a_token
        )
        received = result.liquidator_collateral
        if sale is not None:
            out = self.routes.execute(self.holder, sale, collateral, received, debt)
            flash_repay(world, self.holder, debt, plan.repaid, plan.premium)
            proceeds_usd = out * usd_d
        else:
            proceeds_usd = received * usd_c
        repaid_usd = result.debt_repaid * usd_d
        flash_fee_usd = plan.premium * usd_d
        self.model.record(
            event_kinds.LIQUIDATION,
            actor=self.holder,
            market=market.name,
            pid=result.pid,
            owner=str(market.owner[pid]),
            collateral_asset=result.collateral_asset,
            debt_asset=result.debt_asset,
            health_factor=result.health_factor,
            debt_repaid=result.debt_repaid,
            collateral_seized=result.collateral_seized,
            protocol_fee=result.protocol_fee,
            collateral_seized_usd=result.collateral_seized * usd_c,
            received_a_token=plan.a_token,
            route=KEPT if sale is None else sale.route,
            pool=sale.pool.name if sale is not None and sale.route == POOL else None,
            sold=0.0 if sale is None else received,
            debt_repaid_usd=repaid_usd,
            flash_fee_usd=flash_fee_usd,
            profit_usd=proceeds_usd - repaid_usd - flash_fee_usd - gas_usd,
            bad_debt=sum(v * world.usd(a) for a, v in result.bad_debt.items()),
        )

    # -- kept tokens -----------------------------------------------------------------------
    def _redeem(self) -> None:
        """Redeem the protocol tokens kept from liquidations: a market's receipt tokens as
        far as its cash allows (SupplyLogic.executeWithdraw), a pool's LP tokens for the
        pool's coins pro rata (UniswapV2Pair.burn / Curve remove_liquidity); what comes out
        joins the inventory."""
        world = self.model.world
        for token, balance in world.ledger.balances_of(self.holder).items():
            name = names.parse(token)
            if name is None:
                continue
            if name.kind == names.RECEIPT and name.issuer in world.markets:
                market = world.markets[name.issuer]
                amount = min(market.balance_of(self.holder, name.asset), market.cash(name.asset))
                if amount > 0:
                    market.withdraw(self.holder, name.asset, amount)
            elif name.kind == names.LP and name.issuer in world.pools:
                world.pools[name.issuer].remove_liquidity(self.holder, balance)


def _value(market: LendingMarket, prices: np.ndarray) -> _Table | None:
    """The positions with HF < 1 at full cover (None without any): per position the
    collateral and debt asset of largest oracle value, the close factor (`close_factor`
    while HF > the threshold, else 1), and seized, repaid and protocol fee from
    `liquidation_amounts` (the contract's _calculateAvailableCollateralToLiquidate)."""
    hf = market.health_factors()
    pids = np.flatnonzero(hf < 1.0)
    if not pids.size:
        return None
    assets = market.assets
    # np.take rather than fancy indexing: the same rows, several times faster on big books.
    collateral = np.take(market.collateral_scaled, pids, axis=0)
    collateral *= [market.exchange_rate(a) for a in assets]
    debt = np.take(market.debt_scaled, pids, axis=0)
    debt *= [market.borrow_index(a) for a in assets]
    c = np.argmax(collateral * prices, axis=1)
    d = np.argmax(debt * prices, axis=1)
    close = np.where(np.take(hf, pids) > market.close_factor_hf_threshold,
                     market.close_factor, 1.0)
    bonus = np.array([market.reserves[a].liquidation_bonus for a in assets])[c]
    fee_share = np.array([market.reserves[a].liquidation_protocol_fee for a in assets])[c]
    seized, repaid, fee = liquidation_amounts(
        np.take_along_axis(debt, d[:, None], axis=1)[:, 0] * close,
        np.take_along_axis(collateral, c[:, None], axis=1)[:, 0],
        prices[d], prices[c], bonus, fee_share,
    )  # fmt: skip
    keep = (seized - fee > 0) & (repaid > 0)
    if not keep.any():
        return None
    return _Table(pids[keep], c[keep], d[keep], (seized - fee)[keep], repaid[keep])
