"""The treasury's collateral safety buffer: each step, every borrowing position of the treasury
is kept inside the health-factor band `policy.hf_floor` .. `policy.hf_ceiling` around its
target `policy.borrow_hf`, as a DAO's multisig or keeper bot does.

The health factor is Aave's, at the market's oracle prices - what liquidators act on
(GenericLogic.calculateUserAccountData; https://aave.com/docs/aave-v3/markets/health-factor):

    HF = W / D,  W = sum_a coll_a x price_a x LT_a,  D = sum_a debt_a x price_a.

Below the floor, HF is restored to `borrow_hf` in the cheapest order for the DAO:
1. top up: post more of the collateral the position holds, from the free portfolio (no
   trade, one `supply` call): x = (borrow_hf x D - W) / (price x LT) units;
2. repay: what the free collateral could not restore is repaid in the debt asset, from its
   free balance, then its lending deposit, then by selling other assets within the
   treasury's `max_slippage` (`TreasuryDesk.obtain`): r = (D - W / borrow_hf) / price units.
Topping up first keeps the loan the DAO took on purpose; repaying costs swaps when the debt
asset is not held. Above the ceiling, the excess collateral is withdrawn back to the free
portfolio down to `borrow_hf`: x = (W - borrow_hf x D) / (price x LT) units; borrowing more
is left to `policy.borrow` targets, which say how much debt the DAO wants.

Each call pays `gas_units` like any treasury action, moves below `min_trade_usd` are not
made, and each is an event (`collateral_topup`, `debt_repaid_for_buffer`,
`collateral_withdrawn_for_buffer`) with units, USD at reference prices and HF before/after.
Inside the band nothing is done: the band is the hysteresis that keeps gas from being spent
every step on noise."""

from __future__ import annotations

import numpy as np

from agents import event_kinds
from agents.treasury_debts import TreasuryDebts
from protocols.errors import DaosimError
from protocols.lending import LendingMarket
from protocols.lending.health import health_factor

#: HF within this relative distance of the target counts as restored (float rounding)
RESTORED = 1e-9


def topup_units(weighted: float, debt_value: float, target: float, price: float,
                lt: float) -> float:
    """Collateral units (at oracle `price`, threshold `lt`) that bring HF = weighted /
    debt_value up to `target`: (target x D - W) / (price x LT), 0 when already there."""
    return max(0.0, (target * debt_value - weighted) / (price * lt))


def repay_units(weighted: float, debt_value: float, target: float, price: float) -> float:
    """Debt units (at oracle `price`) whose repayment brings HF up to `target`:
    (D - W / target) / price, 0 when already there."""
    return max(0.0, (debt_value - weighted / target) / price)


def excess_units(weighted: float, debt_value: float, target: float, price: float,
                 lt: float) -> float:
    """Collateral units whose withdrawal brings HF down to `target`: (W - target x D) /
    (price x LT), 0 when already there."""
    return max(0.0, (weighted - target * debt_value) / (price * lt))


def threshold(market: LendingMarket, asset: str) -> float:
    """`asset`'s liquidation threshold in `market`, 0 when it is not usable as collateral."""
    params = market.reserves[asset]
    return params.liquidation_threshold * params.usable_as_collateral


def account(market: LendingMarket, pid: int) -> tuple[float, float, float]:
    """(W, D, HF) of a position at the market's oracle prices (module doc)."""
    prices = np.array([market.oracles[a].price for a in market.assets], dtype=float)
    lts = np.array([threshold(market, a) for a in market.assets])
    collateral, debt = market.collateral_of(pid), market.debt_of(pid)
    return (float(collateral @ (prices * lts)), float(debt @ prices),
            float(health_factor(collateral, debt, prices, lts)))


class TreasuryBuffer:
    """Keeps the health factors of `debts`' positions in the policy's band (module doc);
    counts the USD it topped up, repaid and withdrew."""

    def __init__(self, debts: TreasuryDebts) -> None:
        self.debts = debts
        self.desk = debts.desk
        policy = self.desk.config.policy
        self.target = policy.borrow_hf
        self.floor = policy.hf_floor
        self.ceiling = policy.hf_ceiling
        self.topped_up_usd = self.repaid_usd = self.withdrawn_usd = 0.0

    @property
    def on(self) -> bool:
        return self.floor is not None or self.ceiling is not None

    def step(self) -> bool:
        """Bring every position outside the band back to the target; True when it acted."""
        if not self.on:
            return False
        acted = False
        for name, pid in sorted(self.debts.positions.items()):
            market = self.desk.world.markets[name]
            _, debt_value, hf = account(market, pid)
            if debt_value <= 0:
                continue
            if self.floor is not None and hf < self.floor:
                acted |= self._top_up(market, pid)
                acted |= self._repay(market, pid)
            elif self.ceiling is not None and hf > self.ceiling:
                acted |= self._withdraw(market, pid)
        return acted

    def _collateral(self, market: LendingMarket, pid: int) -> list[str]:
        """The position's collateral assets that count (LT > 0), largest posted value first."""
        posted = market.collateral_of(pid)
        held = [(-posted[i] * market.oracles[a].price, a) for i, a in enumerate(market.assets)
                if posted[i] > 0 and threshold(market, a) > 0]
        return [a for _, a in sorted(held)]

    def _restored(self, market: LendingMarket, pid: int) -> bool:
        return account(market, pid)[2] >= self.target * (1 - RESTORED)

    def _top_up(self, market: LendingMarket, pid: int) -> bool:
        ledger = self.desk.world.ledger
        acted = False
        for asset in self._collateral(market, pid):
            weighted, debt_value, before = account(market, pid)
            units = min(ledger.balance_of(self.desk.holder, asset),
                        topup_units(weighted, debt_value, self.target,
                                    market.oracles[asset].price,
                                    threshold(market, asset)))
            usd = self._move(market, pid, asset, units, before, withdraw=False)
            self.topped_up_usd += usd
            acted |= usd > 0
            if self._restored(market, pid):
                break
        return acted

    def _repay(self, market: LendingMarket, pid: int) -> bool:
        desk, ledger = self.desk, self.desk.world.ledger
        acted = False
        debts = market.debt_of(pid)
        order = sorted((-debts[i] * market.oracles[a].price, a)
                       for i, a in enumerate(market.assets) if debts[i] > 0)
        for _, asset in order:
            if self._restored(market, pid):
                break
            weighted, debt_value, before = account(market, pid)
            want = min(repay_units(weighted, debt_value, self.target,
                                   market.oracles[asset].price),
                       self.debts.debt(market.name, asset))
            if want * desk.world.usd(asset) < max(desk.config.min_trade_usd, 1e-9):
                continue
            held = ledger.balance_of(desk.holder, asset)
            if held < want:
                desk.obtain(asset, want - held, "buffer")
            pay = min(want, ledger.balance_of(desk.holder, asset))
            usd = pay * desk.world.usd(asset)
            if usd < max(desk.config.min_trade_usd, 1e-9):
                continue
            repaid = market.repay(pid, asset, pay)
            desk.gas()
            self.repaid_usd += repaid * desk.world.usd(asset)
            self._event(event_kinds.DEBT_REPAID_FOR_BUFFER, market, pid, asset, repaid,
                        repaid * desk.world.usd(asset), before)
            acted = True
        return acted

    def _withdraw(self, market: LendingMarket, pid: int) -> bool:
        acted = False
        for asset in self._collateral(market, pid):
            weighted, debt_value, before = account(market, pid)
            if before <= self.target * (1 + RESTORED):
                break
            i = market.assets.index(asset)
            units = min(float(market.collateral_of(pid)[i]), market.cash(asset),
                        excess_units(weighted, debt_value, self.target,
                                     market.oracles[asset].price,
                                     threshold(market, asset)))
            usd = self._move(market, pid, asset, units, before, withdraw=True)
            self.withdrawn_usd += usd
            acted |= usd > 0
        return acted

    def _move(self, market: LendingMarket, pid: int, asset: str, units: float, before: float,
              *, withdraw: bool) -> float:
        """Post (or withdraw) `units` of collateral, paying gas and recording the event; the
        USD moved, 0 when it is under `min_trade_usd` or the market refuses."""
        desk = self.desk
        usd = units * desk.world.usd(asset)
        if usd < max(desk.config.min_trade_usd, 1e-9):
            return 0.0
        try:
            if withdraw:
                market.withdraw_collateral(pid, asset, units)
            else:
                market.deposit_collateral(pid, asset, units)
        except DaosimError as exc:
            reason = "market_illiquid" if withdraw else "venue_refused"
            desk.fail(reason, market=market.name, asset=asset, error=str(exc))
            return 0.0
        desk.gas()
        kind = (event_kinds.COLLATERAL_WITHDRAWN_FOR_BUFFER if withdraw
                else event_kinds.COLLATERAL_TOPUP)
        self._event(kind, market, pid, asset, units, usd, before)
        return usd

    def _event(self, kind: str, market: LendingMarket, pid: int, asset: str, units: float,
               usd: float, before: float) -> None:
        self.desk.host.record(kind, actor=self.desk.holder, market=market.name, asset=asset,
                              amount=units, usd=usd, hf_before=before,
                              hf_after=account(market, pid)[2])
