"""Liquidators: repay unhealthy Aave positions for their collateral plus the bonus, and dump
that collateral into the AMMs - the feedback loop that turns a crash into a cascade.

A liquidator holds inventory under the ledger holder f"liq:{unique_id}", funded at creation
with `capital_usd` split equally (at reference prices) over every asset that some market lets
borrow. Each step it runs up to `max_rounds` rounds; each round scans every market, values
every candidate vectorized, executes the profitable ones in descending estimated profit until
it cannot raise (at least a gas fee's worth of) any debt asset they need, and between rounds
asks the model to refresh the oracles so that pool-TWAP feeds see the sales.

Valuation: USD at the off-chain reference prices (`world.usd`); the liquidation itself is
priced by the market's oracles, exactly as the contract does. Gas is an accounting cost in
`profit_usd` (it leaves the simulated economy, so no ledger transfer pays it).

Route: seized collateral is sold with `swap_exact_in` into the pool that pays the most USD
for that amount among the pools trading it against the debt asset or a stablecoin (for a
given size that is the deepest pool). Collateral that no pool trades is kept as inventory,
valued at its reference price; collateral that a pool trades but cannot absorb
(InsufficientLiquidity) makes the liquidation unprofitable, so it is skipped. A market
without cash of the collateral pays in a-tokens, redeemed at the start of a later step.
Collateral that is another protocol's token (a market's receipt, a pool's LP token: see
sim.composition) has no pool: it is kept and redeemed at its issuer at the start of the next
steps, as far as that market's cash allows (an LP token always redeems).

Event "liquidation" (one per call): actor, market, pid, collateral_asset, debt_asset,
health_factor, debt_repaid (debt units), collateral_seized and protocol_fee (collateral
units, fee included in seized), received_a_token, pool (None: not sold), sold, debt_repaid_usd,
profit_usd (sale proceeds - repayment - gas; buy-back trades are not charged to it) and
bad_debt (USD value of the debt the liquidation wrote off).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, NamedTuple

import mesa
import numpy as np

from agents import event_kinds
from agents.host import Host
from protocols import names
from protocols.errors import ConfigError, InsufficientLiquidity
from protocols.lending import LendingMarket, NotLiquidatable, liquidation_amounts
from protocols.validation import check_amount

#: Extra share of a shortfall sold when buying back the debt asset, covering the pool fee
#: and price impact so that one swap usually suffices.
BUYBACK_CUSHION = 0.02


class _Plan(NamedTuple):
    """One candidate liquidation, valued by the vectorized scan."""

    profit_usd: float
    market: LendingMarket
    pid: int
    collateral: str
    debt: str
    max_cover: float  # debt x close factor
    balance: float  # collateral balance of the position, underlying
    debt_price: float
    collateral_price: float
    bonus: float
    protocol_fee: float
    repaid: float


class _Sale(NamedTuple):
    pool: Any  # None: no swap, the asset is kept
    token_out: str
    usd: float


class Liquidator(mesa.Agent):
    """A liquidation bot with finite capital; see the module doc.

    `stables` names the USD stablecoins seized collateral may be sold into besides the debt
    asset. Pass it as a set or frozenset to `create_agents` (a list of length n would be
    spread over the agents).
    """

    def __init__(
        self,
        model: Host,
        capital_usd: float,
        gas_units: int,
        max_rounds: int = 3,
        stables: Collection[str] = frozenset(),
    ) -> None:
        world = model.world
        capital_usd = check_amount("capital_usd", capital_usd)
        gas_units = check_amount("gas_units", gas_units)
        if isinstance(max_rounds, bool) or not isinstance(max_rounds, int) or max_rounds < 1:
            raise ConfigError(f"max_rounds: must be an integer >= 1, got {max_rounds!r}")
        unknown = sorted(set(stables) - set(world.assets))
        if unknown:
            raise ConfigError(f"stables: not assets of the world: {unknown}")
        super().__init__(model)
        self.capital_usd = capital_usd
        self.gas_units = gas_units
        self.max_rounds = max_rounds
        self.stables = frozenset(stables)
        self.holder = names.agent(names.LIQUIDATOR, self.unique_id)
        borrowable = [
            a
            for a in world.assets
            if any(a in m.reserves and m.reserves[a].borrowable for m in world.markets.values())
        ]
        if capital_usd > 0:
            for asset in borrowable:
                world.fund(self.holder, asset, capital_usd / len(borrowable) / world.usd(asset))

    # -- the step ------------------------------------------------------------------------
    def step(self) -> None:
        """Redeem a-tokens markets can pay out again, then liquidate in rounds until a round
        finds nothing profitable; oracles are refreshed between rounds."""
        self._redeem()
        for round_ in range(self.max_rounds):
            if round_:
                self.model.refresh_prices()
            if not self._round():
                break

    def _round(self) -> int:
        """Scan every market, try the profitable candidates best first while some debt asset
        they need can still be had; return how many liquidations went through."""
        gas_usd = float(self.model.gas_cost_usd(self.gas_units))
        tables = [self._candidates(m, gas_usd) for m in self.model.world.markets.values()]
        columns = [np.concatenate(column) for column in zip(*tables, strict=True)]
        if not columns or not columns[0].size:
            return 0
        debts = columns[_Plan._fields.index("debt")]
        needed, exhausted = set(debts), set()
        done = 0
        for k in np.argsort(-columns[0], kind="stable"):
            if debts[k] in exhausted:
                continue
            plan = _Plan(*(column[k] for column in columns))
            available = self._obtain(plan.debt, plan.repaid)
            if available * self.model.world.usd(plan.debt) <= gas_usd:  # not worth a gas fee
                exhausted.add(plan.debt)
                if exhausted >= needed:
                    break
            elif self._execute(plan, available, gas_usd):
                done += 1
                exhausted.clear()  # new inventory may buy what was missing
        return done

    # -- valuing candidates (vectorized) -------------------------------------------------
    def _candidates(self, market: LendingMarket, gas_usd: float) -> list[np.ndarray]:
        """The positions with HF < 1 whose liquidation, valued at reference prices before
        slippage, beats gas: one array per `_Plan` field.

        Per position: the collateral and debt assets of largest oracle value; the close factor
        of LiquidationLogic._calculateDebt (`close_factor` while HF > the threshold, else 1);
        seized, repaid and protocol fee from `liquidation_amounts` (the contract's
        _calculateAvailableCollateralToLiquidate). Profit = (seized - fee) x usd(collateral)
        - repaid x usd(debt) - gas. Slippage is added per executed candidate (`_execute`).
        """
        hf = market.health_factors()  # market.liquidatable() is hf < 1
        pids = np.flatnonzero(hf < 1.0)
        assets = market.assets
        world = self.model.world
        prices = np.array([market.oracles[a].price for a in assets], dtype=float)
        usd = np.array([world.usd(a) for a in assets])
        collateral = market.collateral_scaled[pids] * [market.exchange_rate(a) for a in assets]
        debt = market.debt_scaled[pids] * [market.borrow_index(a) for a in assets]
        rows = np.arange(pids.size)
        c = np.argmax(collateral * prices, axis=1)
        d = np.argmax(debt * prices, axis=1)
        close = np.where(hf[pids] > market.close_factor_hf_threshold, market.close_factor, 1.0)
        bonus = np.array([market.reserves[a].liquidation_bonus for a in assets])[c]
        fee_share = np.array([market.reserves[a].liquidation_protocol_fee for a in assets])[c]
        max_cover = debt[rows, d] * close
        balance = collateral[rows, c]
        seized, repaid, fee = liquidation_amounts(
            max_cover, balance, prices[d], prices[c], bonus, fee_share
        )
        profit = (seized - fee) * usd[c] - repaid * usd[d] - gas_usd
        keep = profit > 0
        names = np.array(assets, dtype=object)
        columns = (
            profit, np.full(pids.size, market, dtype=object), pids, names[c], names[d],
            max_cover, balance, prices[d], prices[c], bonus, fee_share, repaid,
        )  # fmt: skip
        return [column[keep] for column in columns]

    # -- executing one liquidation -------------------------------------------------------
    def _execute(self, plan: _Plan, available: float, gas_usd: float) -> bool:
        """Liquidate `plan`, covering at most the `available` debt asset held, if it is still
        profitable after the sale's slippage; then sell the collateral."""
        world = self.model.world
        cover = min(plan.max_cover, available)
        seized, repaid, fee = (
            float(x)
            for x in liquidation_amounts(
                cover,
                plan.balance,
                plan.debt_price,
                plan.collateral_price,
                plan.bonus,
                plan.protocol_fee,
            )
        )
        if seized - fee <= 0:
            return False
        sale = self._sale(plan.collateral, seized - fee, plan.debt)
        if sale is None:
            return False
        if sale.usd - repaid * world.usd(plan.debt) - gas_usd <= 0:
            return False
        a_token = False
        try:
            result = plan.market.liquidate(self.holder, plan.pid, plan.collateral, plan.debt, cover)
        except InsufficientLiquidity:  # the market lacks cash of the collateral: take a-tokens
            a_token = True
            result = plan.market.liquidate(
                self.holder, plan.pid, plan.collateral, plan.debt, cover, receive_a_token=True
            )
        except NotLiquidatable:  # an earlier write-off this round lifted it back above 1
            return False
        received = result.liquidator_collateral
        pool, sold, proceeds = None, 0.0, received * world.usd(plan.collateral)
        if not a_token and sale.pool is not None:
            pool, sold = sale.pool, received
            out = pool.swap_exact_in(self.holder, plan.collateral, sale.token_out, received)
            proceeds = out * world.usd(sale.token_out)
        self.model.record(
            event_kinds.LIQUIDATION,
            actor=self.holder,
            market=plan.market.name,
            pid=result.pid,
            collateral_asset=result.collateral_asset,
            debt_asset=result.debt_asset,
            health_factor=result.health_factor,
            debt_repaid=result.debt_repaid,
            collateral_seized=result.collateral_seized,
            protocol_fee=result.protocol_fee,
            received_a_token=a_token,
            pool=None if pool is None else pool.name,
            sold=sold,
            debt_repaid_usd=result.debt_repaid * world.usd(result.debt_asset),
            profit_usd=proceeds - result.debt_repaid * world.usd(result.debt_asset) - gas_usd,
            bad_debt=sum(v * world.usd(a) for a, v in result.bad_debt.items()),
        )
        return True

    def _sale(self, asset: str, amount: float, debt: str) -> _Sale | None:
        """Best sale of `amount` of `asset` into the debt asset or a stablecoin. Without any
        pool for it the collateral is kept: pool None, valued at reference. None when pools
        exist but none can absorb the amount."""
        outs = (self.stables | {debt}) - {asset}
        if asset == debt or not self._pools_for(asset, outs):
            return _Sale(None, asset, amount * self.model.world.usd(asset))
        return self._best_swap(asset, amount, outs)

    def _best_swap(self, token_in: str, amount: float, outs: Collection[str]) -> _Sale | None:
        """The (pool, token out) paying the most USD for `amount` of `token_in`, by quote."""
        world = self.model.world
        best = None
        for pool, out in self._pools_for(token_in, outs):
            try:
                got = pool.quote_exact_in(token_in, out, amount)
            except InsufficientLiquidity:
                continue
            usd = got * world.usd(out)
            if best is None or usd > best.usd:
                best = _Sale(pool, out, usd)
        return best

    def _pools_for(self, token_in: str, outs: Collection[str]) -> list[tuple[Any, str]]:
        return [
            (pool, out)
            for pool in self.model.world.pools.values()
            if token_in in pool.tokens
            for out in pool.tokens
            if out in outs and out != token_in
        ]

    # -- inventory -----------------------------------------------------------------------
    def _obtain(self, asset: str, amount: float) -> float:
        """Hold `amount` of `asset` if possible, selling other inventory (largest USD value
        first) for the shortfall; returns what is held afterwards."""
        world, ledger = self.model.world, self.model.world.ledger
        held = ledger.balance_of(self.holder, asset)
        if held >= amount:
            return held
        inventory = sorted(
            (
                (balance * world.usd(token), token, balance)
                for token, balance in ledger.balances_of(self.holder).items()
                if token in world.reference and token != asset
            ),
            reverse=True,
        )
        for _, token, balance in inventory:
            shortfall = amount - ledger.balance_of(self.holder, asset)
            if shortfall <= 0:
                break
            wanted = shortfall * world.usd(asset) / world.usd(token) * (1 + BUYBACK_CUSHION)
            sell = min(wanted, balance)
            swap = self._best_swap(token, sell, {asset})
            if swap is not None:
                swap.pool.swap_exact_in(self.holder, token, asset, sell)
        return ledger.balance_of(self.holder, asset)

    def _redeem(self) -> None:
        """Withdraw a-tokens received when a market lacked cash, as far as its cash allows
        (SupplyLogic.executeWithdraw); the underlying joins the inventory."""
        for market in self.model.world.markets.values():
            for asset in market.assets:
                if self.model.world.ledger.balance_of(self.holder, market.receipt_token(asset)):
                    amount = min(market.balance_of(self.holder, asset), market.cash(asset))
                    if amount > 0:
                        market.withdraw(self.holder, asset, amount)
        # Seized LP tokens (a pool's LP token accepted as collateral) are redeemed for the
        # pool's coins (UniswapV2Pair.burn / Curve remove_liquidity), pro rata.
        ledger = self.model.world.ledger
        for pool in self.model.world.pools.values():
            lp_token = pool.lp_token
            if lp_token is not None and ledger.balance_of(self.holder, lp_token) > 0:
                pool.remove_liquidity(self.holder, ledger.balance_of(self.holder, lp_token))
