"""The Mesa model: one scenario + one seed -> a time series, an event log and a summary.

`Model.step` follows the step order of ARCHITECTURE.md explicitly; within an agent type
the order is shuffled with the model's RNG (`AgentSet.shuffle_do`). One root seed spawns
every stream (`sim.paths.seed_streams`): exogenous paths and the model's own generators
never share draws, so changing an agent parameter leaves the market paths untouched.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Any

import mesa
import networkx as nx

from agents import event_kinds
from agents.allocator import Allocator
from agents.arbitrageur import Arbitrageur
from agents.borrowers import BorrowerCohort
from agents.forecast import market_regimes
from agents.liquidator import Liquidator
from agents.liquidity_provider import LiquidityProvider
from agents.ranges import RecentreRule
from agents.treasury_debts import may_borrow
from agents.venues import fund_holding
from protocols import names
from protocols.errors import ConfigError, DaosimError
from protocols.world import World
from sim import columns
from sim.assembly import build_world
from sim.capital import reporters as capital_reporters
from sim.capital import summary_figures as capital_figures
from sim.cascade import Cascade
from sim.collector import SeriesCollector
from sim.contagion import annotate, contagion_summary, origins_debtrank
from sim.distress import DistressMonitor
from sim.gas import GWEI, gas_with_load_scalar, window_steps
from sim.graph import dependency_graph
from sim.health import AFTER, BEFORE, END, START, HealthSnapshots
from sim.liquidation_curve import PRE_SHOCK, LiquidationCurves
from sim.origins import find_origins
from sim.paths import ExogenousPaths, generate_paths, seed_streams
from sim.ranges import reporters as range_reporters
from sim.ranges import summary_figures as range_figures
from sim.shocks import ShockSchedule, first_shock_step
from sim.shortfall import ShortfallMeter
from sim.treasury import forecast_reporters, greek_reporters
from sim.treasury import reporters as treasury_reporters
from sim.treasury import runway_months as treasury_runway
from sim.treasury import summary_figures as treasury_figures
from sim.vault_vol import trackers as vault_vol_trackers
from spec import Scenario

#: ETH price used for gas when a scenario has no ETH asset.
DEFAULT_ETH_USD = 2000.0
#: hours of simulated time between samples of the systemic DebtRank column
SYSTEMIC_EVERY_HOURS = 6.0


class TreasuryModel(mesa.Model):
    """A DeFi world under stress, with the DAO treasury in it."""

    def __init__(
        self,
        config: Scenario,
        *,
        paths: ExogenousPaths | None = None,
        data_dir: str | None = None,
    ) -> None:
        streams = seed_streams(config.seed)
        super().__init__(seed=int(streams["model"].generate_state(1)[0]))
        self.config = config
        self.paths = paths if paths is not None else generate_paths(config, data_dir)
        self.events: list[dict[str, Any]] = []
        self.shocks = ShockSchedule(config.shocks)
        self.gas_gwei = float(self.paths.gas_gwei[0])
        self.rounds_per_step = config.rounds_per_step
        self.liquidations_this_step = 0
        # Liquidations of the steps in the trailing hour (the gas load, per hour).
        self._recent_liquidations: deque[int] = deque(maxlen=window_steps(config.step_hours))

        lp = config.agents.liquidity_providers
        lp_holders = [names.agent(names.LIQUIDITY_PROVIDER, k) for k in range(lp.count)]
        self.world: World = build_world(config, self.paths.prices[0], lp_holders)
        for holder in lp_holders:
            LiquidityProvider(
                self, holder, lp.flight_drawdown, lp.flight_share, lp.return_after,
                RecentreRule(lp.recentre_after, lp.recentre_band), lp.recentre_gas_units,
            )
        arb, liq = config.agents.arbitrageurs, config.agents.liquidators
        Arbitrageur.create_agents(self, arb.count, arb.capital_usd, arb.gas_units)
        Liquidator.create_agents(
            self, liq.count, liq.capital_usd, liq.gas_units, liq.flash_loan_fee
        )
        cohort_draws = streams["borrowers"].spawn(len(config.agents.borrowers))
        for i, cohort in enumerate(config.agents.borrowers):
            try:
                BorrowerCohort(self, cohort, cohort_draws[i])
            except DaosimError as exc:
                raise ConfigError(f"agents.borrowers[{i}]: cannot open its positions at step 0: "
                                  f"{exc}") from None
        for asset, amount in config.treasury.holdings.items():
            if amount > 0:  # vault shares too: deposited for the step-0 roll
                fund_holding(self.world, names.TREASURY, asset, amount)
        self.allocator = Allocator(
            self, names.TREASURY, config.treasury, stables=config.usd_stables,
            step_hours=config.step_hours, steps_per_year=config.steps_per_year,
            horizon=config.steps, regimes=market_regimes(config),
        )
        self.vault_vol = vault_vol_trackers(self.world, config)  # implied vols (sim.vault_vol)
        self._roll_vaults(0)
        self.shortfall = ShortfallMeter(self.world)
        # Where the stress starts (sim.origins) and the chain it spreads along (sim.cascade);
        # the graph DebtRank is measured on is the one just before the first origin: step
        # 0's until the end of the step before it (sim.contagion).
        self._bad_debt_from: dict[str, dict[str, float]] = {}
        self.cascade = Cascade(find_origins(config, self.paths, self.world),
                               blame=lambda node: self._bad_debt_from.get(node, {}))
        self._shocked_origins = any(o.size > 0 for o in self.cascade.origins.values())
        first_origin = min((o.step for o in self.cascade.origins.values()), default=None)
        self._snapshot_step = None if first_origin is None else first_origin - 1
        self._graph: tuple[int, nx.DiGraph] | None = None
        self._systemic = 0.0
        self.series = SeriesCollector(self._reporters())  # the time series (sim.collector)
        self.series.collect(self)
        self.distress = DistressMonitor(
            self.world, config, names.TREASURY, runway=self._runway_months,
            value=lambda: self.allocator.book.nav_usd, vault_nav=self._collected_vault_nav,
            shortfall=self._collected_shortfall,
        )
        self.graph_before = self.cascade.before = self._step_graph()
        self._evaluate_distress(0)
        self.health = HealthSnapshots(self.world)  # and the step-0 histogram
        self._shock_step = first_shock_step(config)
        if self._shock_step is None:
            self.health.take(self.world, START, 0)
        self.curves = LiquidationCurves()  # liquidations at risk (sim.liquidation_curve)
        self.curves.take(self.world, START, 0)

    # -- services the agents use -------------------------------------------------------
    def gas_cost_usd(self, gas_units: float) -> float:
        """USD cost of `gas_units` at this step's gas price."""
        # sim.gas.gas_cost_usd's formula, without its array checks: agents call this per
        # candidate trade, and both factors here are already validated floats.
        eth = self.world.usd("ETH") if "ETH" in self.world.reference else DEFAULT_ETH_USD
        return self.gas_gwei * GWEI * gas_units * eth

    def record(self, kind: str, **fields: Any) -> None:
        """Append an event (liquidation, arbitrage, shock, distress...) to the run's log."""
        self.events.append({"step": self.steps, "kind": kind, **fields})
        if kind == event_kinds.LIQUIDATION:
            self.liquidations_this_step += 1
            if fields.get("bad_debt", 0.0) > 0:  # whose collateral the loss came through
                source = self.world.ledger.issuer_of(fields["collateral_asset"])
                losses = self._bad_debt_from.setdefault(fields["market"], {})
                losses[source] = losses.get(source, 0.0) + fields["bad_debt"]

    # -- the step ----------------------------------------------------------------------
    def step(self) -> None:
        t = self.steps
        if t == self._shock_step:
            self.health.take(self.world, BEFORE, t - 1)
            self.curves.take(self.world, PRE_SHOCK, t - 1)
        # 1. gas advances: it rises with the liquidation load of the trailing hour
        # (competition for block space), counted per hour: the previous step's at hourly
        # steps, the last 4 steps' at 15 minutes, the previous step's / 4 at 4 hours
        # (sim.gas.window_steps); scheduled shocks fire
        recent = self._recent_liquidations
        recent.append(self.liquidations_this_step)
        self.liquidations_this_step = 0
        load = sum(recent) / (recent.maxlen * self.config.step_hours)
        gas = gas_with_load_scalar(
            float(self.paths.gas_gwei[t]), load, self.config.gas.load_sensitivity
        )
        self.gas_gwei = min(gas * self.shocks.gas_multiplier(t), self.config.gas.max_gwei)
        self.shocks.fire(
            t, self.world, self.record, self.agents_by_type.get(LiquidityProvider, [])
        )
        self._complete_crossings(t)
        # 2. rounds along the intra-step price path: fundamentals move and off-chain impact
        # relaxes, oracles update, arbitrageurs then liquidators act
        self._rounds(t)
        # 3. interest
        for market in self.world.markets.values():
            market.accrue(self.config.dt_years)
        # 4. borrowers, 5. liquidity providers
        self._do(BorrowerCohort)
        self._do(LiquidityProvider)
        # 6. option vaults roll at epoch ends, at an implied vol that follows realized vol
        for tracker in self.vault_vol.values():
            tracker.observe()
        self._roll_vaults(t)
        # 7. the allocator applies the DAO policy (opex, debts, rebalancing)
        self._do(Allocator)
        # 8. record, then distress transitions (reading the vault NAV just collected)
        self.series.collect(self)
        self._evaluate_distress(t)
        self.health.take_step(self.world, t)
        if t == self._snapshot_step:
            self.graph_before = self.cascade.before = self._step_graph()
        if t >= self.config.steps:
            self.running = False

    def _rounds(self, t: int) -> None:
        """The step's `rounds_per_step` rounds. Round k of step t is row (t - 1) R + k of
        the intra-step paths, which is also the oracles' clock (sim.assembly)."""
        rounds = self.rounds_per_step
        hours = self.config.step_hours / rounds
        self.shortfall.start_step()
        for row in range((t - 1) * rounds + 1, t * rounds + 1):
            self.world.set_prices(self.paths.rounds[row])
            self.world.decay_impact(hours)
            self.world.update_oracles(t, row)
            if t == self._shock_step and row == (t - 1) * rounds + 1:
                self.health.take(self.world, AFTER, t)
            # insolvency as the prices moved, before anyone liquidates it into bad debt,
            # and as the round leaves it
            self.shortfall.observe()
            self._do(Arbitrageur)
            self._do(Liquidator)
            self.shortfall.observe()

    def _complete_crossings(self, t: int) -> None:
        """Bridge transfers due at `t` complete (protocols.bridge), after the step's shocks."""
        for name, bridge in self.world.bridges.items():
            for crossing, delivered in bridge.process(t):
                self.record(event_kinds.BRIDGE_TRANSFER, node=name, holder=crossing.holder,
                            direction=crossing.direction, amount=crossing.amount,
                            delivered=delivered, started=crossing.due - bridge.delay_steps)

    def run(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Run every step of the scenario's horizon; `progress(done, horizon)` after each
        step (the dashboard's progress bar)."""
        while self.running and self.steps < self.config.steps:
            self.step()
            if progress is not None:
                progress(int(self.steps), int(self.config.steps))
        self.health.take(self.world, END, int(self.steps))

    # -- helpers -----------------------------------------------------------------------
    def _do(self, agent_type: type[mesa.Agent]) -> None:
        agents = self.agents_by_type.get(agent_type)
        if agents:
            agents.shuffle_do("step")

    def _roll_vaults(self, step: int) -> None:
        for name, vault in self.world.vaults.items():
            if vault.step_due(step):
                implied_vol = self.vault_vol[name].implied_vol()
                # The desk stands for the whole off-chain options market: it brings each
                # premium it pays from outside the simulated world.
                desk = self.world.ledger.balance_of(names.OPTIONS_DESK, vault.collateral)
                short = vault.premium_due(implied_vol) - desk
                if short > 0.0:
                    self.world.fund(names.OPTIONS_DESK, vault.collateral, short)
                epoch = vault.roll(step, implied_vol, names.OPTIONS_DESK)
                if epoch is not None:
                    self.record(event_kinds.VAULT_ROLL, node=name, strike=epoch.strike,
                                iv=implied_vol, realized_vol=self.vault_vol[name].realized_vol)

    def _runway_months(self) -> float:
        """The allocator's runway (sim.treasury), from the book it refreshed this step."""
        allocator = self.allocator
        return treasury_runway(
            allocator.book, self.config.treasury.opex_usd_per_month, allocator.stables
        )

    def _collected_vault_nav(self, name: str) -> float:
        """NAV per share of vault `name` (in its collateral) from this step's collected
        share price: marking the options once per step is the costly part of distress."""
        usd = self.series.latest(columns.vault_share_usd(name))
        return usd / self.world.usd(self.world.vaults[name].collateral)

    def _collected_shortfall(self, name: str) -> float:
        """Shortfall (USD) of market `name` this step, its peak over the rounds, from this
        step's collected column: valuing the whole book again would double the cost."""
        return self.series.latest(columns.shortfall_usd(name))

    def _evaluate_distress(self, step: int) -> None:
        first = []
        for change in self.distress.evaluate(step):
            self.record(change.kind, node=change.node, cause=change.cause, value=change.value,
                        since=change.since)
            if change.kind == event_kinds.DISTRESS and change.node not in self.cascade.links:
                first.append((change.node, change.since))
        for link in self.cascade.observe(first, self._step_graph):
            if link.parent is not None:
                self.record(event_kinds.CONTAGION, node=link.node, parent=link.parent,
                            channel=link.channel, exposure_usd=link.exposure_usd,
                            depth=link.depth, since=link.since)

    def dependency_graph(self) -> nx.DiGraph:
        """The protocol-dependency graph now (sim.graph), cohort wallets grouped per market."""
        groups = {
            cohort.holder: names.borrower_group(cohort.market.name)
            for cohort in self.agents_by_type.get(BorrowerCohort, [])
        }
        return dependency_graph(self.world, self.steps, groups=groups, treasury=names.TREASURY)

    def _step_graph(self) -> nx.DiGraph:
        """The graph of this step as recorded: built once, when the time series is collected,
        and shared with the cascade, which reads it right after (nothing moves in between)."""
        if self._graph is None or self._graph[0] != self.steps:
            self._graph = (self.steps, self.dependency_graph())
        return self._graph[1]

    def contagion_graph(self) -> nx.DiGraph:
        """The graph before the first origin, annotated with origins and the chain
        (graph.json)."""
        return annotate(self.graph_before, self.cascade)

    def _systemic_debtrank(self) -> float:
        """DebtRank of the run's origins on the graph of the latest sample (sim.contagion):
        sampled every `SYSTEMIC_EVERY_HOURS` of simulated time and at the step before the
        first origin (the summary's figure), the value held in between. A graph and a
        DebtRank every hourly step cost 40 % of a baseline run; a 6-hour sample shows how
        exposure builds up."""
        if not self._shocked_origins:  # nothing to spread: 0 on any graph, none is built
            return 0.0
        t, hours = int(self.steps), self.config.step_hours
        if t == 0 or t == self._snapshot_step or (
                math.floor(t * hours / SYSTEMIC_EVERY_HOURS)
                != math.floor((t - 1) * hours / SYSTEMIC_EVERY_HOURS)):
            self._systemic = origins_debtrank(self._step_graph(), self.cascade.origins)
        return self._systemic

    def _clock_start(self) -> int:
        """The step contagion times count from: the first origin, else the first shock."""
        steps = [o.step for o in self.cascade.origins.values()]
        return min(steps) if steps else (self._shock_step or 0)

    def treasury_value_usd(self) -> float:
        return self.world.holder_usd(names.TREASURY, self.steps)

    def _reporters(self) -> dict[str, Any]:
        world = self.world
        reporters: dict[str, Any] = {
            columns.GAS_GWEI: lambda m: m.gas_gwei,
            columns.TREASURY_USD: lambda m: m.treasury_value_usd(),
            columns.LIQUIDATIONS: lambda m: m.liquidations_this_step,
            columns.SYSTEMIC_DEBTRANK: lambda m: m._systemic_debtrank(),
            **treasury_reporters(self.config.treasury.opex_usd_per_month),
            **greek_reporters(self.config),
            **capital_reporters(world),
            **forecast_reporters(self.config, self.paths.regime,
                                 self.allocator.forecaster.assets),
            **range_reporters(world, self.config.treasury),  # v3 IL and ranges (sim.ranges)
        }
        wrapped = {bridge.wrapped for bridge in world.bridges.values()}
        for name, bridge in world.bridges.items():
            reporters[columns.backing(name)] = lambda m, b=bridge: b.backing
        for name, pool in world.pools.items():
            if wrapped & set(pool.tokens):  # its LPs hold the bridge's loss
                reporters[columns.pool_tvl_usd(name)] = lambda m, n=name: m.world.pool_tvl_usd(n)
        for asset in world.traded_assets:
            reporters[columns.price(asset)] = lambda m, a=asset: m.world.usd(a)
            if not world.reference[asset].unlimited:
                reporters[columns.fundamental(asset)] = (
                    lambda m, a=asset: m.world.reference[a].fundamental
                )
        for name, pool in world.pools.items():
            base, quote = pool.tokens[0], pool.tokens[1]
            reporters[columns.pool_price(name)] = (
                lambda m, p=pool, b=base, q=quote: p.spot_price(b, q) * m.world.usd(q)
            )
        for consumer, feeds in world.oracles.items():
            for asset, oracle in feeds.items():
                reporters[columns.oracle(consumer, asset)] = lambda m, o=oracle: o.price
        for name, market in world.markets.items():
            for asset in market.assets:
                reporters[columns.utilization(name, asset)] = (
                    lambda m, mk=market, a=asset: mk.utilization(a)
                )
                reporters[columns.bad_debt(name, asset)] = (
                    lambda m, mk=market, a=asset: mk.bad_debt[a]
                )
            reporters[columns.bad_debt_usd(name)] = lambda m, mk=market: math.fsum(
                amount * m.world.usd(a) for a, amount in mk.bad_debt.items()
            )
            # the step's peak over its rounds, at the off-chain prices, not the market's
            # oracles (a stale feed hides nothing): sim.shortfall
            reporters[columns.shortfall_usd(name)] = lambda m, n=name: m.shortfall.step_peak(n)
            if may_borrow(self.config.treasury):  # inf without debt: only where it may owe
                reporters[columns.treasury_hf(name)] = (
                    lambda m, n=name: m.allocator.debts.health_factor(n))
        for name, vault in world.vaults.items():
            reporters[columns.vault_share_usd(name)] = (
                lambda m, t=vault.shares: m.world.token_usd(t, m.steps)
            )
        return reporters

    # -- outputs -----------------------------------------------------------------------
    def timeseries(self):
        frame = self.series.frame()
        frame.index.name = "step"
        return frame.reset_index()

    def summary(self) -> dict[str, Any]:
        """One row of headline figures for this run."""
        ts = self.timeseries()
        liquidations = [e for e in self.events if e["kind"] == event_kinds.LIQUIDATION]
        bad_debt_usd = math.fsum(
            amount * self.world.usd(asset)
            for market in self.world.markets.values()
            for asset, amount in market.bad_debt.items()
        )
        return {
            "scenario": self.config.name,
            "seed": self.config.seed,
            "steps": int(self.steps),
            "liquidations": len(liquidations),
            # positions hit at least once: unlike the count of calls, it does not depend on
            # how finely rounds split a position's liquidation into close-factor pieces
            "positions_liquidated": len({(e["market"], e["pid"]) for e in liquidations}),
            "liquidation_volume_usd": math.fsum(
                float(e.get("debt_repaid_usd", 0.0)) for e in liquidations
            ),
            "bad_debt_usd": bad_debt_usd,
            **shortfall_figures(ts, {n: self.shortfall.now(n) for n in self.world.markets}),
            **capital_figures(ts),  # borrowing power, borrowed, usage (sim.capital)
            "max_gas_gwei": float(ts[columns.GAS_GWEI].max()),
            **treasury_figures(self.allocator, ts, self.events),
            **range_figures(ts, self.events),  # impermanent loss, re-centrings (sim.ranges)
            # the loss net of debt, posted collateral included: a loan moves no value
            **contagion_summary(
                self.world, self.cascade, self.graph_before, ts[columns.TREASURY_NAV],
                self._clock_start()
            ),
        }


def shortfall_figures(ts, end: dict[str, float]) -> dict[str, float]:
    """`shortfall_peak_usd`: the largest per-step total of the `shortfall_usd:MARKET`
    columns (each the step's peak over its rounds); `shortfall_end_usd`: the total at the end
    of the run (`end`, per market); then the same per market (`:MARKET` suffix)."""
    found = columns.of_kind(ts.columns, columns.SHORTFALL_USD)
    frame = ts[[c.name for c in found]]
    total = frame.sum(axis=1)
    # the model collects step 0 at construction, so there is always a row
    figures = {"shortfall_peak_usd": float(total.max()),
               "shortfall_end_usd": math.fsum(end.values())}
    for column in found:
        figures[f"shortfall_peak_usd:{column.subject}"] = float(frame[column.name].max())
        figures[f"shortfall_end_usd:{column.subject}"] = end[column.subject]
    return figures
