"""The treasury's borrowing: one Aave position per market, moved toward the policy's target
debts - borrowing against `policy.collateral` (default: the treasury's own `token`, e.g.
GOV, a real and risky DAO practice) at health factor `policy.borrow_hf`, or repaying and
taking the collateral back once a position is closed. The position is an ordinary one of its
market: liquidators see and liquidate it like any other."""

from __future__ import annotations

from collections.abc import Mapping
from math import inf

from agents import event_kinds
from agents.policies import BUILTIN
from agents.treasury_desk import TreasuryDesk
from protocols.errors import DaosimError
from protocols.lending import LendingMarket
from spec import Treasury


def may_borrow(config: Treasury) -> bool:
    """Whether the treasury can ever owe anything: `policy.borrow`, a `delta_hedge` hedging
    by borrowing, a scheduled borrow action, the buffer on, or a user policy (which may
    return debt targets)."""
    policy = config.policy
    return bool(policy.borrow or policy.hf_floor or policy.hf_ceiling
                or (policy.kind == "delta_hedge" and policy.hedge_with == "borrow")
                or policy.kind not in BUILTIN
                or any(a.kind == "borrow" for a in config.actions))


class TreasuryDebts:
    """The treasury's borrowing positions (market -> position id) and how they move."""

    def __init__(self, desk: TreasuryDesk) -> None:
        self.desk = desk
        self.positions: dict[str, int] = {}

    def adjust(self, targets: Mapping[str, float], current: Mapping[str, float]) -> None:
        """Move every debt (USD per asset, `current` now) toward `targets`; an asset the
        targets leave out keeps its debt."""
        desk, world = self.desk, self.desk.world
        config = desk.config
        collateral = config.policy.collateral or config.token
        for asset in sorted(set(targets) | set(current)):
            wanted = max(0.0, float(targets.get(asset, current.get(asset, 0.0))))
            gap_usd = wanted - current.get(asset, 0.0)
            if abs(gap_usd) < max(config.min_trade_usd, 1e-9):
                continue
            market = self._market_for(asset, collateral)
            if market is None:
                desk.fail("borrow_refused", asset=asset, reason_detail="no market")
                continue
            if gap_usd > 0:
                self._borrow(market, asset, collateral, gap_usd / world.usd(asset))
            else:
                self._repay(market, asset, -gap_usd / world.usd(asset))

    def borrow(self, asset: str, amount: float, market: str | None = None,
               collateral: str | None = None) -> float:
        """Borrow up to `amount` units of `asset` in `market` (default: the first lending it
        against `collateral`, default as for the policy's debts) at `policy.borrow_hf`;
        returns the units borrowed (0 when refused - recorded)."""
        config = self.desk.config
        collateral = collateral or config.policy.collateral or config.token
        found = (self.desk.world.markets[market] if market is not None
                 else self._market_for(asset, collateral))
        if found is None:
            self.desk.fail("borrow_refused", asset=asset, reason_detail="no market")
            return 0.0
        return self._borrow(found, asset, collateral, amount)

    def debt(self, market: str, asset: str) -> float:
        """Units of `asset` the treasury owes in `market` (0 without a position there)."""
        pid = self.positions.get(market)
        if pid is None:
            return 0.0
        lending = self.desk.world.markets[market]
        return float(lending.debt_of(pid)[lending.assets.index(asset)])

    def health_factor(self, market: str) -> float:
        """The treasury's health factor in `market` at its oracle prices (inf without debt
        or without a position there, as Aave's type(uint256).max)."""
        pid = self.positions.get(market)
        return inf if pid is None else self.desk.world.markets[market].health_factor_of(pid)

    def repay(self, asset: str, amount: float, market: str | None = None) -> float:
        """Repay up to `amount` units of `asset` in `market` (default: the first market where
        the treasury owes it) from what the wallet holds - nothing is sold for it; returns
        the units repaid."""
        if market is None:
            market = next((m for m in sorted(self.positions) if self.debt(m, asset) > 0), None)
        if market is None:
            return 0.0
        held = self.desk.world.ledger.balance_of(self.desk.holder, asset)
        amount = min(amount, held, self.debt(market, asset))
        if amount <= 0:
            return 0.0
        return self._repay(self.desk.world.markets[market], asset, amount)

    def _market_for(self, asset: str, collateral: str) -> LendingMarket | None:
        for market in self.desk.world.markets.values():
            if (asset in market.assets and collateral in market.assets
                    and market.reserves[asset].borrowable
                    and market.reserves[collateral].liquidation_threshold > 0):
                return market
        return None

    def _borrow(self, market: LendingMarket, asset: str, collateral: str,
                amount: float) -> float:
        """Borrow `amount` of `asset`, first posting collateral so the position's health
        factor (oracle prices, Aave's definition) stays at `borrow_hf`; returns the units
        borrowed."""
        desk = self.desk
        world, ledger, policy = desk.world, desk.world.ledger, desk.config.policy
        if market.name not in self.positions:
            self.positions[market.name] = market.open_position(desk.holder)
        pid = self.positions[market.name]
        i_c = market.assets.index(collateral)
        p_c, p_a = market.oracles[collateral].price, market.oracles[asset].price
        lt = market.reserves[collateral].liquidation_threshold
        debt_value = float(market.debt_of(pid) @ [market.oracles[a].price for a in market.assets])
        posted = float(market.collateral_of(pid)[i_c])
        needed = policy.borrow_hf * (debt_value + amount * p_a) / (lt * p_c)
        top_up = min(max(0.0, needed - posted), ledger.balance_of(desk.holder, collateral))
        if top_up > 0:
            market.deposit_collateral(pid, collateral, top_up)
            desk.gas()
            posted += top_up
        # What the posted collateral supports at the target health factor.
        room = (posted * p_c * lt / policy.borrow_hf - debt_value) / p_a
        amount = min(amount, room, market.cash(asset))
        if amount * world.usd(asset) < desk.config.min_trade_usd:
            why = "market_illiquid" if market.cash(asset) * p_a < room * p_a else "borrow_refused"
            desk.fail(why, market=market.name, asset=asset, wanted=amount)
            return 0.0
        try:
            market.borrow(pid, asset, amount)
        except DaosimError as exc:
            desk.fail("borrow_refused", market=market.name, asset=asset, error=str(exc))
            return 0.0
        desk.gas()
        desk.host.record(event_kinds.TREASURY_BORROW, actor=desk.holder, market=market.name,
                         asset=asset, amount=amount, collateral=collateral,
                         collateral_posted=posted, health_factor=market.health_factor_of(pid))
        return amount

    def _repay(self, market: LendingMarket, asset: str, amount: float) -> float:
        """Repay `amount` of `asset`, raising what the wallet lacks (`desk.obtain`); returns
        the units repaid."""
        desk = self.desk
        ledger = desk.world.ledger
        pid = self.positions.get(market.name)
        if pid is None:
            return 0.0
        held = ledger.balance_of(desk.holder, asset)
        if held < amount:
            desk.obtain(asset, amount - held, "repay")
            held = ledger.balance_of(desk.holder, asset)
        pay = min(amount, held)
        if pay <= 0:
            return 0.0
        repaid = market.repay(pid, asset, pay)
        desk.gas()
        desk.host.record(event_kinds.TREASURY_REPAY, actor=desk.holder, market=market.name,
                         asset=asset, amount=repaid)
        if not market.debt_of(pid).any():  # closed: take the collateral back
            for a, c in zip(market.assets, market.collateral_of(pid), strict=True):
                if c > 0:
                    try:
                        market.withdraw_collateral(pid, a, float(c))
                    except DaosimError as exc:
                        desk.fail("market_illiquid", market=market.name, asset=a, error=str(exc))
        return repaid
