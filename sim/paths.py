"""Exogenous paths of one run, generated once as arrays before the first step.

Reference (off-chain) prices of every asset, the gas price and the market regime come from
the scenario and one root seed. Each stream has its own child of the root
`numpy.random.SeedSequence`, so adding an asset or changing a protocol parameter never
shifts another stream: a sweep's replicate k sees the same market at every point (common
random numbers). Shocks apply their effect on the paths here (`sim.shocks`: crashes,
depegs); the others fire in the model at their step.

Every path has a point per round: a step has R = `scenario.rounds_per_step` rounds, and
round k of step t is fine row (t - 1) * R + k (row t * R is the end of step t, row 0 the
initial state). The step rows are exactly what they were before rounds existed, whatever
R: risky synthetic paths draw their steps from the same stream as ever and fill the rounds
with a Brownian bridge from a stream of their own ("rounds"); replays follow each candle
through its high and low (`sim.historical.candle_path`); pegged assets interpolate their
ratio to the peg between step rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from protocols.errors import ConfigError
from sim import prices
from sim.gas import gas_price_path, hourly_abs_return
from sim.historical import replay_paths
from sim.shocks import ShockEffect, effect
from spec import Asset, Scenario

#: Children of the root SeedSequence, by purpose. Append only: reordering breaks replays.
STREAMS = ("prices", "pegs", "gas", "model", "rounds", "borrowers")


def seed_streams(seed: int) -> dict[str, np.random.SeedSequence]:
    """One independent SeedSequence per purpose, all spawned from `seed`."""
    return dict(zip(STREAMS, np.random.SeedSequence(seed).spawn(len(STREAMS)), strict=True))


@dataclass(frozen=True)
class ExogenousPaths:
    """Row t of `prices`, `gas_gwei` and `regime` is the state during step t (row 0 = the
    initial state). `rounds` holds the reference prices of every round: row (t - 1) * R + k
    is round k (1..R) of step t, row t * R is `prices[t]` (`prices` is the view rounds[::R])."""

    assets: tuple[str, ...]
    prices: np.ndarray  # (steps + 1, n_assets), USD
    gas_gwei: np.ndarray  # (steps + 1,)
    regime: np.ndarray  # (steps + 1,) 0 calm, 1 stress
    rounds: np.ndarray  # (steps * rounds_per_step + 1, n_assets), USD

    @property
    def rounds_per_step(self) -> int:
        return (self.rounds.shape[0] - 1) // (self.prices.shape[0] - 1)

    def price(self, asset: str) -> np.ndarray:
        return self.prices[:, self.assets.index(asset)]


def generate_paths(scenario: Scenario, data_dir: str | None = None) -> ExogenousPaths:
    """Reference prices, gas and regime for `scenario` with its seed."""
    streams = seed_streams(scenario.seed)
    steps, rounds = scenario.steps, scenario.rounds_per_step
    symbols = tuple(a.symbol for a in scenario.assets)
    risky = [a for a in scenario.assets if a.kind == "risky"]
    regime = np.zeros(steps + 1, dtype=np.int8)
    out = np.empty((steps * rounds + 1, len(symbols)))
    replayed = _replayed(scenario, data_dir)
    shocks = [effect(s) for s in scenario.shocks]

    if risky:
        risky_paths, regime = _risky_paths(scenario, risky, streams, replayed)
        for k, asset in enumerate(risky):
            out[:, symbols.index(asset.symbol)] = risky_paths[:, k]
    _shock_paths(shocks, out, symbols, risky, rounds)

    pegged = [a for a in scenario.assets if a.kind == "pegged"]
    peg_streams = streams["pegs"].spawn(len(pegged))
    for asset, stream in zip(pegged, peg_streams, strict=True):
        usd = asset.peg_to == "USD"
        anchor = np.ones(steps * rounds + 1) if usd else out[:, symbols.index(asset.peg_to)]
        ratio = _peg_ratio(scenario, asset, asset.price / anchor[0], stream, replayed, shocks)
        out[:, symbols.index(asset.symbol)] = anchor * ratio
    _shock_paths(shocks, out, symbols, pegged, rounds)

    step_rows = out[::rounds]
    eth = symbols.index("ETH") if "ETH" in symbols else 0
    gas = gas_price_path(
        np.random.default_rng(streams["gas"]),
        steps,
        base_gwei=scenario.gas.base_gwei,
        vol=scenario.gas.vol,
        mean_reversion=scenario.gas.mean_reversion,
        spike_sensitivity=scenario.gas.vol_sensitivity,
        market_vol=hourly_abs_return(step_rows[:, eth], scenario.step_hours),
        step_hours=scenario.step_hours,
    )
    gas = np.minimum(gas, scenario.gas.max_gwei)
    return ExogenousPaths(symbols, step_rows, gas, regime, out)


def _replayed(scenario: Scenario, data_dir: str | None) -> dict[str, np.ndarray]:
    """The data series of every asset with a `data` file in a historical market, on the run's
    round grid, read in one `replay_paths` call so that they share one start: `market.start`, or
    else the latest first observation among the files (risky and pegged alike). Risky
    assets' series are USD prices; pegged assets' are ratios to their peg (stETH in ETH from
    the Chainlink stETH/ETH rounds, USDC in USDT taken as USD, UST in USD)."""
    if scenario.market.process != "historical":
        return {}
    assets = [a for a in scenario.assets if a.data is not None]
    if not assets:
        return {}
    paths = replay_paths(
        {a.symbol: a.data for a in assets},
        scenario.step_hours,
        scenario.market.start,
        scenario.steps,
        data_dir,
        {a.symbol: a.column for a in assets if a.column},
        scenario.rounds_per_step,
    )
    return {a.symbol: paths[:, k] for k, a in enumerate(assets)}


def _risky_paths(
    scenario: Scenario,
    risky: list[Asset],
    streams: dict[str, np.random.SeedSequence],
    replayed: dict[str, np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Risky assets' paths on the round grid and the regime of every step."""
    if scenario.market.process == "historical":
        calm = np.zeros(scenario.steps + 1, dtype=np.int8)
        return np.column_stack([replayed[a.symbol] for a in risky]), calm
    steps, regime = _risky_steps(scenario, risky, streams["prices"])
    return _bridged(scenario, risky, steps, regime, streams["rounds"]), regime


def _risky_steps(
    scenario: Scenario, risky: list[Asset], stream: np.random.SeedSequence
) -> tuple[np.ndarray, np.ndarray]:
    """The step rows of a synthetic process."""
    market, steps, dt = scenario.market, scenario.steps, scenario.dt_years
    rng = np.random.default_rng(stream)
    s0 = [a.price for a in risky]
    mu = [a.mu for a in risky]
    sigma = [a.sigma for a in risky]
    corr = market.correlation if len(risky) > 1 else None
    calm = np.zeros(steps + 1, dtype=np.int8)
    if market.process == "gbm":
        return prices.gbm_paths(rng, s0, mu, sigma, corr, steps, dt), calm
    if market.process == "merton":
        paths = prices.merton_paths(
            rng, s0, mu, sigma, corr, market.jump_intensity, market.jump_mean,
            market.jump_std, steps, dt,
        )
        return paths, calm
    stress = market.stress
    calm_params = prices.RegimeParams(sigma=sigma, corr=corr)
    stress_params = prices.RegimeParams(
        sigma=np.asarray(sigma) * stress.vol_multiplier,
        corr=stress.correlation if len(risky) > 1 else None,
        jump_intensity=stress.jump_intensity,
        jump_mean=market.jump_mean,
        jump_std=market.jump_std,
    )
    return prices.regime_switching_paths(
        rng, s0, mu, calm_params, stress_params, stress.p_enter, stress.p_exit, steps, dt
    )


def _bridged(
    scenario: Scenario,
    risky: list[Asset],
    steps: np.ndarray,
    regime: np.ndarray,
    stream: np.random.SeedSequence,
) -> np.ndarray:
    """Rounds between the step rows: a Brownian bridge in log price with each asset's
    per-round variance sigma^2 dt / R (times the stress vol multiplier squared in stress
    steps), correlated across assets like the step moves (the stress correlation in stress
    steps). Merton jumps of a step are spread evenly over its rounds by the bridge."""
    rounds = scenario.rounds_per_step
    if rounds == 1:
        return steps
    n = len(risky)
    sigma = np.array([a.sigma for a in risky]) * np.sqrt(scenario.dt_years / rounds)
    e = np.random.default_rng(stream).standard_normal((scenario.steps, rounds, n))
    corr = scenario.market.correlation if n > 1 else None
    z = _correlated(e, corr, n)
    if scenario.market.process == "regime":
        stress = scenario.market.stress
        in_stress = regime[1:, None].astype(bool)
        stress_corr = stress.correlation if n > 1 else None
        z = np.where(in_stress[:, :, None], _correlated(e, stress_corr, n), z)
        sigma = np.where(in_stress, sigma * stress.vol_multiplier, sigma)
    return prices.brownian_bridge(steps, rounds, sigma, z)


def _correlated(e: np.ndarray, corr: float | None, n: int) -> np.ndarray:
    factor = prices.correlation_factor(corr, n)
    return e if factor is None else e @ factor.T


def _peg_ratio(
    scenario: Scenario,
    asset: Asset,
    ratio: float,
    stream: np.random.SeedSequence,
    replayed: dict[str, np.ndarray],
    shocks: list[ShockEffect],
) -> np.ndarray:
    """A pegged asset's ratio to its peg on the round grid.

    Synthetic pegs: the mean-reverting process runs on the step grid as ever, and the
    ratio takes each step's value at the step's first round and holds it through the
    step - no bridge and no interpolation: the noise is a per-step stationary deviation (a
    few bp) with no intra-step model, and spreading it over the rounds would invent a drift
    that arbitrageurs chase round after round in deep stable pools (every round a trade,
    the run's cost proportional to the rounds for nothing). Without draws the rounds cannot
    change the peg's step rows or other streams. A depeg moves in step increments, each at
    its step's first round, as a crash does. Replayed pegs: the data on the round grid,
    deepened by each depeg from the first round of its start step, as a crash hits a
    replayed risky price."""
    steps, rounds = scenario.steps, scenario.rounds_per_step
    depegs = [prices.Depeg(d.start, d.duration, d.depth, d.recovery) for d in asset.depegs]
    depegs += [d for shock in shocks for d in shock.depegs(asset.symbol)]
    if asset.symbol in replayed:
        # The data are quoted in the peg (stETH in ETH, USDC in USDT). Depegs deepen the
        # replayed history (a what-if on top of it): during an episode the ratio is
        # multiplied by 1 - gap, like a crash multiplies a replayed risky price.
        step_of_round = (np.arange(steps * rounds + 1) + rounds - 1) // rounds
        gap = _depeg_gap(asset.symbol, depegs, steps)[step_of_round]
        return replayed[asset.symbol] * (1.0 - gap)
    step_rows = prices.pegged_paths(
        np.random.default_rng(stream), steps, peg=ratio, noise_sigma=asset.peg_noise,
        mean_reversion=asset.mean_reversion, depegs=depegs,
    )
    return np.concatenate((step_rows[:1], np.repeat(step_rows[1:], rounds)))


def _depeg_gap(symbol: str, depegs: list[prices.Depeg], steps: int) -> np.ndarray:
    """Deepest target shortfall below the peg per step row (0 without depegs)."""
    for i, depeg in enumerate(depegs):
        if depeg.start_step > steps:
            raise ConfigError(
                f"{symbol}: depegs[{i}].start_step: {depeg.start_step} is after the last step "
                f"({steps})"
            )
    rows = np.arange(steps + 1)
    return np.max([d.gap(rows) for d in depegs], axis=0) if depegs else np.zeros(steps + 1)


def _shock_paths(
    shocks: list[ShockEffect],
    out: np.ndarray,
    symbols: tuple[str, ...],
    assets: list[Asset],
    rounds_per_step: int,
) -> None:
    """Apply every shock's effect on the round-grid paths of `assets` (a crash multiplies its
    asset's path by 1 - size from the first round of its step on: shocks fire in the step
    they name, so that step's rows are all hit)."""
    for asset in assets:
        for shock in shocks:
            shock.scale_path(asset.symbol, out[:, symbols.index(asset.symbol)], rounds_per_step)
