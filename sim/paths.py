"""Exogenous paths of one run, generated once as arrays before the first step.

Reference (off-chain) prices of every asset, the gas price and the market regime come from
the scenario and one root seed. Each stream has its own child of the root
`numpy.random.SeedSequence`, so adding an asset or changing a protocol parameter never
shifts another stream: a sweep's replicate k sees the same market at every point (common
random numbers). Shocks apply their effect on the paths here (`sim.shocks`: crashes,
depegs); the others fire in the model at their step.
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
STREAMS = ("prices", "pegs", "gas", "model")


def seed_streams(seed: int) -> dict[str, np.random.SeedSequence]:
    """One independent SeedSequence per purpose, all spawned from `seed`."""
    return dict(zip(STREAMS, np.random.SeedSequence(seed).spawn(len(STREAMS)), strict=True))


@dataclass(frozen=True)
class ExogenousPaths:
    """Row t is the state during step t (row 0 = the initial state)."""

    assets: tuple[str, ...]
    prices: np.ndarray  # (steps + 1, n_assets), USD
    gas_gwei: np.ndarray  # (steps + 1,)
    regime: np.ndarray  # (steps + 1,) 0 calm, 1 stress

    def price(self, asset: str) -> np.ndarray:
        return self.prices[:, self.assets.index(asset)]


def generate_paths(scenario: Scenario, data_dir: str | None = None) -> ExogenousPaths:
    """Reference prices, gas and regime for `scenario` with its seed."""
    streams = seed_streams(scenario.seed)
    steps = scenario.steps
    symbols = tuple(a.symbol for a in scenario.assets)
    risky = [a for a in scenario.assets if a.kind == "risky"]
    regime = np.zeros(steps + 1, dtype=np.int8)
    out = np.empty((steps + 1, len(symbols)))
    replayed = _replayed(scenario, data_dir)
    shocks = [effect(s) for s in scenario.shocks]

    if risky:
        risky_paths, regime = _risky_paths(scenario, risky, streams["prices"], replayed)
        for k, asset in enumerate(risky):
            out[:, symbols.index(asset.symbol)] = risky_paths[:, k]
    _shock_paths(shocks, out, symbols, risky)

    pegged = [a for a in scenario.assets if a.kind == "pegged"]
    peg_streams = streams["pegs"].spawn(len(pegged))
    for asset, stream in zip(pegged, peg_streams, strict=True):
        usd = asset.peg_to == "USD"
        anchor = np.ones(steps + 1) if usd else out[:, symbols.index(asset.peg_to)]
        ratio = _peg_ratio(scenario, asset, asset.price / anchor[0], stream, replayed, shocks)
        out[:, symbols.index(asset.symbol)] = anchor * ratio
    _shock_paths(shocks, out, symbols, pegged)

    eth = symbols.index("ETH") if "ETH" in symbols else 0
    gas = gas_price_path(
        np.random.default_rng(streams["gas"]),
        steps,
        base_gwei=scenario.gas.base_gwei,
        vol=scenario.gas.vol,
        mean_reversion=scenario.gas.mean_reversion,
        spike_sensitivity=scenario.gas.vol_sensitivity,
        market_vol=hourly_abs_return(out[:, eth], scenario.step_hours),
        step_hours=scenario.step_hours,
    )
    return ExogenousPaths(symbols, out, np.minimum(gas, scenario.gas.max_gwei), regime)


def _replayed(scenario: Scenario, data_dir: str | None) -> dict[str, np.ndarray]:
    """The data series of every asset with a `data` file in a historical market, on the run's
    grid, read in one `replay_paths` call so that they share one start: `market.start`, or
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
    )
    return {a.symbol: paths[:, k] for k, a in enumerate(assets)}


def _risky_paths(
    scenario: Scenario,
    risky: list[Asset],
    stream: np.random.SeedSequence,
    replayed: dict[str, np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
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
    if market.process == "regime":
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
    return np.column_stack([replayed[a.symbol] for a in risky]), calm


def _peg_ratio(
    scenario: Scenario,
    asset: Asset,
    ratio: float,
    stream: np.random.SeedSequence,
    replayed: dict[str, np.ndarray],
    shocks: list[ShockEffect],
) -> np.ndarray:
    steps = scenario.steps
    depegs = [prices.Depeg(d.start, d.duration, d.depth, d.recovery) for d in asset.depegs]
    depegs += [d for shock in shocks for d in shock.depegs(asset.symbol)]
    if asset.symbol in replayed:
        # The data are quoted in the peg (stETH in ETH, USDC in USDT). Depegs deepen the
        # replayed history (a what-if on top of it): during an episode the ratio is
        # multiplied by 1 - gap, like a crash multiplies a replayed risky price.
        return replayed[asset.symbol] * (1.0 - _depeg_gap(asset.symbol, depegs, steps))
    return prices.pegged_paths(
        np.random.default_rng(stream), steps, peg=ratio, noise_sigma=asset.peg_noise,
        mean_reversion=asset.mean_reversion, depegs=depegs,
    )


def _depeg_gap(symbol: str, depegs: list[prices.Depeg], steps: int) -> np.ndarray:
    """Deepest target shortfall below the peg per row (0 without depegs)."""
    for i, depeg in enumerate(depegs):
        if depeg.start_step > steps:
            raise ConfigError(
                f"{symbol}: depegs[{i}].start_step: {depeg.start_step} is after the last step "
                f"({steps})"
            )
    rows = np.arange(steps + 1)
    return np.max([d.gap(rows) for d in depegs], axis=0) if depegs else np.zeros(steps + 1)


def _shock_paths(
    shocks: list[ShockEffect], out: np.ndarray, symbols: tuple[str, ...], assets: list[Asset]
) -> None:
    """Apply every shock's effect on the paths of `assets` (a crash multiplies its asset's
    path from its step on by 1 - size: row t is the reference price during step t, and
    shocks fire in the step they name)."""
    for asset in assets:
        for shock in shocks:
            shock.scale_path(asset.symbol, out[:, symbols.index(asset.symbol)])
