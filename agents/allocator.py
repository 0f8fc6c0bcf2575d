"""The DAO treasury's allocator: pays opex, asks its policy for targets, trades toward them.

The treasury's assets live in the ledger under one holder (`protocols.names.TREASURY`). Each
step (step 10 of the model) the allocator

1. pays the operating spend pro rata (`opex_usd_per_month` x step_hours / 730.5 h, in
   `opex_token`, to `opex:payees`), raising the opex token when short: withdrawing its
   lending deposit, then selling other stables, then other assets (largest first);
2. sells risk assets, its own token first, when the runway is below
   `forced_sale.runway_floor_months` (`agents.treasury_forced`; off by default) - whatever
   the policy, which then sees the book after the sale;
3. runs the tranches of the scheduled `actions` due this step (`agents.treasury_actions`:
   a proposal's sale, deposit, loan, ...), then keeps the collateral buffer of its loans
   (`agents.treasury_buffer`: off unless `policy.hf_floor` / `hf_ceiling` are set), so the
   policy sees the book they leave;
4. shows the policy a read-only `TreasuryView` and normalizes its answer (`Decision`),
   stopping the run with a `PolicyError` on one it cannot act on (`decide`);
5. moves debts toward the policy's targets (`agents.treasury_debts`);
6. trades the free portfolio toward the target weights: leaves venues it holds too much of
   (`agents.venues`), sells base assets it holds too much of for the safe asset, buys those
   it lacks with it, then enters venues.

How it trades, what that costs and what it records is the desk's (`agents.treasury_desk`);
what cannot be done is shown to the policy next step.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import mesa
import numpy as np

from agents.forecast import Forecaster, Lazy
from agents.host import Host
from agents.policies import BUILTIN, as_decision, make_policy
from agents.policies.base import Decision, TreasuryView
from agents.ranges import RangeKeeper, RecentreRule
from agents.regime_filter import TwoRegime
from agents.routing import Router
from agents.treasury_actions import TreasuryActions
from agents.treasury_book import Book, read_book, token_index
from agents.treasury_buffer import TreasuryBuffer
from agents.treasury_debts import TreasuryDebts
from agents.treasury_desk import TreasuryDesk
from agents.treasury_forced import ForcedSeller
from agents.venues import RangeVenue, venue_index
from protocols import names
from protocols.errors import PolicyError
from spec import Treasury

#: Average month in hours (365.25 days / 12).
HOURS_PER_MONTH = 365.25 * 24.0 / 12.0


class Allocator(mesa.Agent):
    """Applies `config.policy` to the holdings of `holder`; see the module doc.

    `stables` are the world's USD stablecoins, `step_hours` the length of a step (opex is
    paid per step), `steps_per_year` annualizes for the policies, and `horizon` is the run's
    last step (the price and NAV histories policies read are that long). `regimes` are the
    market's own two-regime models per asset (`agents.forecast.market_regimes`).
    """

    def __init__(self, model: Host, holder: str, config: Treasury, *,
                 stables: frozenset[str], step_hours: float, steps_per_year: float,
                 horizon: int, regimes: Mapping[str, TwoRegime] | None = None) -> None:
        super().__init__(model)
        world = model.world
        self.holder = holder
        self.config = config
        self.policy = make_policy(config.policy)
        self.stables = stables
        self.safe = config.policy.safe_asset or config.opex_token
        self.desk = TreasuryDesk(model, holder, config, self.safe, stables)
        self.debts = TreasuryDebts(self.desk)
        self.buffer = TreasuryBuffer(self.debts)
        self.venues = venue_index(world, config.policy.v3_width)
        rule = RecentreRule(config.policy.v3_recentre_after, config.policy.v3_recentre_band)
        #: the v3 venues, each with its keeper (agents.ranges): 3 actions of gas a re-centring
        self.ranges = [v for v in self.venues.values() if isinstance(v, RangeVenue)]
        for venue in self.ranges:
            venue.keeper = RangeKeeper(model, venue.pool, holder, rule, 3 * config.gas_units)
        for key, usd in config.venues.items():
            self.venues[key].open(self.desk, usd)
        #: What holdings are sold into when valuing them at liquidation.
        self.exit_assets = [self.safe] if self.safe in self.stables else sorted(self.stables)
        self.steps_per_year = steps_per_year
        self.opex_per_step_usd = config.opex_usd_per_month * step_hours / HOURS_PER_MONTH
        self.assets = tuple(world.assets)
        self.price_history = np.full((horizon + 1, len(self.assets)), np.nan)
        self.nav_history = np.full(horizon + 1, np.nan)
        self._last_failures: tuple[dict[str, Any], ...] = ()
        self._pending_debt = dict(config.policy.borrow) or None
        self.opex_paid_usd = 0.0
        self.opex_shortfall_usd = 0.0
        self._index = token_index(world)
        self.book = read_book(world, holder, 0, self._positions_map(), self._index)
        self.forced = ForcedSeller(self.desk, opex_usd_per_month=config.opex_usd_per_month,
                                   stables=stables, read_book=self.read_book)
        self.actions = TreasuryActions(self.desk, self.debts, self.venues, config.actions,
                                       self.read_book)
        self.initial_nav_usd = self.book.nav_usd
        self.initial_weights = self.book.weights()
        self._record_history(0)
        self.forecaster = self._forecaster(horizon, regimes or {})
        #: A scenario without a treasury (no holdings, no spend) has nothing to decide.
        self.idle = (self.initial_nav_usd == 0 and self.opex_per_step_usd == 0
                     and not config.actions)

    @property
    def router(self) -> Router:
        return self.desk.router

    @property
    def costs_usd(self) -> dict[str, float]:
        """Gas and slippage paid so far, USD."""
        return self.desk.costs_usd

    @property
    def turnover_usd(self) -> float:
        """Value sold in swaps so far, USD."""
        return self.desk.turnover_usd

    # -- the step ------------------------------------------------------------------------
    def step(self) -> None:
        if self.idle:
            return
        t = self.model.steps
        self.desk.failures = []
        if self.opex_per_step_usd > 0:
            self._pay_opex()
        self.book = self.forced.step(self.read_book())
        if self.actions.step(t):
            self.book = self.read_book()
        if self.buffer.step():
            self.book = self.read_book()
        if any([venue.keep(self.desk) for venue in self.ranges]):  # every one keeps
            self.book = self.read_book()
        self.price_history[t] = [self.book.prices[a] for a in self.assets]
        self.forecaster.observe(t, self.book.prices)
        decision = self.decide(t)
        for kind, fields in decision.events:
            self.model.record(kind, actor=self.holder, **fields)
        if decision.debt_usd is None and self._pending_debt is not None:
            decision = Decision(decision.weights, self._pending_debt)
        self._pending_debt = None
        if decision.weights is not None or decision.debt_usd is not None:
            self.apply(decision)
        self._record_history(t)
        self._last_failures = tuple(self.desk.failures)

    def decide(self, step: int) -> Decision:
        """The policy's answer at `step`, or a `PolicyError` naming the policy and the step
        when a user policy raises or the answer cannot be acted on - e.g. a key that is no
        asset or venue: a key left out means "hold none", so the treasury would sell all it
        holds. A built-in policy's exception is the simulator's bug: its traceback stays."""
        kind = self.config.policy.kind
        where = f"treasury.policy {kind!r} at step {step}"
        view = self.view(step)
        try:
            answer = self.policy.decide(view)
        except Exception as exc:
            if kind in BUILTIN:
                raise
            raise PolicyError(f"{where}: decide raised {type(exc).__name__}: {exc}") from exc
        decision = as_decision(answer, where)
        unknown = [k for k in decision.weights or {} if k not in self.assets
                   and k not in self.venues]
        if unknown:
            raise PolicyError(
                f"{where}: weights name unknown keys {sorted(unknown, key=repr)} (a key left "
                f"out means hold none); allowed: assets {sorted(self.assets)} and venue "
                f"tokens {sorted(self.venues)}")
        return decision

    def view(self, step: int) -> TreasuryView:
        book = self.book
        history = self.price_history[: step + 1]
        history.flags.writeable = False  # a view: the allocator's own array stays writable
        navs = self.nav_history[: step + 1]
        navs.flags.writeable = False
        return TreasuryView(
            step=step, steps_per_year=self.steps_per_year, nav_usd=book.nav_usd,
            initial_nav_usd=self.initial_nav_usd, free_usd=book.free_usd,
            values_usd=dict(book.values_usd), weights=book.weights(),
            initial_weights=dict(self.initial_weights), prices=dict(book.prices),
            assets=self.assets, price_history=history, nav_history=navs,
            deltas=dict(book.deltas), debt_usd=book.debt_usd, stables=self.stables,
            safe_asset=self.safe, failures=self._last_failures,
            gammas=dict(book.gammas), vegas=dict(book.vegas), queued_usd=dict(book.queued_usd),
            regime_prob=Lazy(lambda: self.forecaster.regime_prob(step)),
            vol_forecast=Lazy(lambda: self.forecaster.vol_forecast(step)),
        )

    def _forecaster(self, horizon: int, regimes: Mapping[str, TwoRegime]) -> Forecaster:
        """Forecasts of the treasury's non-stable assets: the policy's `assets` and the
        base assets held at the start (`agents.forecast`), fed the prices of step 0."""
        policy = self.config.policy
        held = {k for k, w in self.initial_weights.items() if w > 0}
        wanted = held | set(policy.assets)
        assets = tuple(a for a in self.assets if a in wanted and a not in self.stables)
        source = regimes if policy.regime_source == "market" else {}
        forecaster = Forecaster(assets, self.steps_per_year, horizon, given=source,
                                refit_every=policy.forecast_refit_every,
                                warmup=policy.forecast_warmup, half_life=policy.half_life)
        forecaster.observe(0, self.book.prices)
        return forecaster

    def _record_history(self, step: int) -> None:
        self.price_history[step] = [self.book.prices[a] for a in self.assets]
        self.nav_history[step] = self.book.nav_usd

    # -- opex ----------------------------------------------------------------------------
    def _pay_opex(self) -> None:
        world, token = self.model.world, self.config.opex_token
        price = world.usd(token)
        due = self.opex_per_step_usd / price
        held = world.ledger.balance_of(self.holder, token)
        if held < due:
            self.desk.obtain(token, due - held, "opex")
            held = world.ledger.balance_of(self.holder, token)
        paid = min(due, held)
        if paid > 0:
            world.ledger.transfer(token, self.holder, names.PAYEES, paid)
            self.opex_paid_usd += paid * price
        if paid < due * (1 - 1e-12):
            short = (due - paid) * price
            self.opex_shortfall_usd += short
            self.desk.fail("opex_shortfall", token=token, shortfall_usd=short)

    # -- rebalancing ---------------------------------------------------------------------
    def _rebalance(self, weights: Mapping[str, float], free_before: float) -> None:
        """Trade the free portfolio toward `weights` x `free_before` USD per key; whatever a
        debt change added or removed lands in the safe asset."""
        world = self.model.world
        book = self.read_book()
        free_now = book.free_usd
        minimum = self.config.min_trade_usd
        targets = {k: w * free_before for k, w in weights.items() if k != self.safe}
        for key in book.values_usd:  # held but not named: sell
            if key != self.safe:
                targets.setdefault(key, 0.0)
        targets[self.safe] = max(0.0, free_now - math.fsum(targets.values()))

        # 1. leave venues held above target
        venues = self.venues
        for key, target in targets.items():
            excess = book.values_usd.get(key, 0.0) - target
            if key in venues and excess > minimum:
                venues[key].exit(self.desk, min(1.0, excess / book.values_usd[key]), excess)
        # 2. base assets needed: targets of base keys plus what venue entries will take
        need: dict[str, float] = {}
        entries: dict[str, float] = {}
        for key, target in targets.items():
            if key in self.assets:
                need[key] = need.get(key, 0.0) + target
            elif key in venues:
                gap = target - book.values_usd.get(key, 0.0)
                if gap > minimum:
                    entries[key] = gap
                    for asset, share in venues[key].mix(world).items():
                        need[asset] = need.get(asset, 0.0) + gap * share
        balances = world.ledger.balances_of(self.holder)
        held = {a: balances.get(a, 0.0) * world.usd(a) for a in self.assets}
        for asset in self.assets:  # sells first: they fund the buys
            excess = held[asset] - need.get(asset, 0.0)
            if asset != self.safe and excess > minimum:
                self.desk.swap(asset, self.safe, self._units(asset, excess), "policy")
        spare = world.ledger.balance_of(self.holder, self.safe) * world.usd(self.safe)
        budget = spare - need.get(self.safe, 0.0)
        wants = {a: need.get(a, 0.0) - held[a] for a in self.assets
                 if a != self.safe and need.get(a, 0.0) - held[a] > minimum}
        total = math.fsum(wants.values())
        scale = min(1.0, max(0.0, budget) / total) if total > 0 else 0.0
        for asset, usd in wants.items():
            if usd * scale > minimum:
                self.desk.swap(self.safe, asset, self._units(self.safe, usd * scale), "policy")
        # 3. enter venues held below target
        for key, usd in entries.items():
            venues[key].enter(self.desk, usd)

    def _units(self, asset: str, usd: float) -> float:
        """Units of `asset` worth `usd`, at most what the treasury holds: selling all of a
        holding valued as balance x price, usd / price can come out an ulp above the balance
        (500 x 1900.12 / 1900.12 = 500.00000000000006), and the ledger refuses the whole sale."""
        world = self.model.world
        return min(usd / world.usd(asset), world.ledger.balance_of(self.holder, asset))

    def apply(self, decision: Decision) -> None:
        """Move debts, then the free portfolio, toward `decision`'s targets (weights are of
        the free portfolio before the debt change) and re-read the book."""
        free_before = self.book.free_usd
        if decision.debt_usd is not None:
            self.debts.adjust(decision.debt_usd, self.book.debt_usd)
        if decision.weights is not None:
            self._rebalance(decision.weights, free_before)
        self.book = self.read_book()

    def read_book(self) -> Book:
        """The treasury's book now (`agents.treasury_book`)."""
        return read_book(self.model.world, self.holder, self.model.steps,
                         self._positions_map(), self._index)

    def _positions_map(self) -> dict[str, list[int]]:
        return {market: [pid] for market, pid in self.debts.positions.items()}
