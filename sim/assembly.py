"""Assemble the protocols of a scenario on one ledger (`protocols.world.World`), at the
scenario's initial prices.

Initial liquidity is split equally among the given liquidity-provider holders, lending
supply comes from a passive `suppliers:<market>` holder, vault deposits from
`depositors:<vault>`, and the options desk that buys vault options is `options-desk`
(`protocols.names`).

A lending reserve may be another protocol's token (sim.composition): markets are built in
dependency order, such a token is priced for oracles and agents from its issuer's state
(`World.usd`), and `World.fund` obtains it the way a user would (supply the underlying,
add pool liquidity).
"""

from __future__ import annotations

import math
from typing import Any

from protocols import names
from protocols.amm.concentrated import ConcentratedLiquidityPool
from protocols.amm.constant_product import ConstantProductPool
from protocols.amm.stableswap import StableSwapPool
from protocols.amm.v3_math import FEE_TICK_SPACING, ticks_around
from protocols.bridge import Bridge
from protocols.errors import ConfigError
from protocols.ledger import Ledger
from protocols.lending import JumpRate, KinkedRate, LendingMarket, ReserveParams
from protocols.offchain import OffchainMarket
from protocols.oracle import Oracle, TwapSource
from protocols.vaults import OptionVault
from protocols.world import World
from sim.composition import build_order
from spec import Bridge as BridgeSpec
from spec import Curve, Lending, OracleSpec, RateModel, Scenario, UniswapV2, UniswapV3
from spec import OptionVault as OptionVaultSpec

#: Curve pools in this simulator hold coins of (nearly) equal value: StableSwap's invariant
#: has no price scale, so coins whose initial prices differ by more than this are refused.
STABLESWAP_PRICE_SPREAD = 0.05


def build_world(scenario: Scenario, initial_prices: Any, lp_holders: list[str]) -> World:
    """All protocols of `scenario`, seeded with liquidity at `initial_prices` (USD, in the
    scenario's asset order). `lp_holders` share every pool's initial liquidity."""
    ledger = Ledger()
    assets = tuple(a.symbol for a in scenario.assets)
    for asset in assets:
        ledger.create_token(asset, issuer=names.issuer(asset))
    reference: dict[str, OffchainMarket] = {}
    initial = dict(zip(assets, initial_prices, strict=True))
    # anchors first: an asset pegged to another trades against its anchor's market
    for spec in sorted(scenario.assets, key=lambda a: a.peg_to in initial):
        anchor = reference.get(spec.peg_to) if spec.kind == "pegged" else None
        reference[spec.symbol] = OffchainMarket(
            float(initial[spec.symbol]), spec.external_depth_usd,
            spec.external_half_life_hours, anchor,
        )
    world = World(ledger, assets, reference)
    holders = lp_holders or [names.agent(names.LIQUIDITY_PROVIDER, "passive")]
    # bridges first: pools and markets may list their wrapped assets
    for spec in scenario.protocols:
        if isinstance(spec, BridgeSpec):
            world.bridges[spec.name] = _bridge(world, spec)

    for i, spec in enumerate(scenario.protocols):
        where = f"protocols[{i}]"
        if isinstance(spec, UniswapV2):
            world.pools[spec.name] = _uniswap_v2(world, spec, holders)
        elif isinstance(spec, UniswapV3):
            world.pools[spec.name] = _uniswap_v3(world, spec, holders)
        elif isinstance(spec, Curve):
            world.pools[spec.name] = _curve(world, spec, holders, where)
    # Pools need nothing built before them; markets may accept another market's receipt or
    # a pool's LP token, so they follow the dependency order (scenario order when there are
    # no composed reserves; sim.scenario has rejected cycles).
    index = {spec.name: i for i, spec in enumerate(scenario.protocols)}
    for name in build_order(scenario.protocols):
        spec = scenario.protocols[index[name]]
        if isinstance(spec, Lending):
            world.markets[spec.name] = _lending(world, spec, scenario.rounds_per_step)
        elif isinstance(spec, OptionVaultSpec):
            world.vaults[spec.name] = _vault(world, spec, scenario)
    return world


# -- bridges -----------------------------------------------------------------------------
def _bridge(world: World, spec: BridgeSpec) -> Bridge:
    """The bridge, and its wrapped asset's off-chain market: anchored to the canonical's
    (its impact moves both, as for a pegged asset), at full backing to start; the supply
    comes from the pools, markets and agents that are funded with it (`World.fund`)."""
    bridge = Bridge(world.ledger, spec.name, spec.canonical, spec.wrapped, spec.delay_steps,
                    spec.halt_on_exploit)
    anchor = world.reference[spec.canonical]
    world.reference[spec.wrapped] = OffchainMarket(
        anchor.fundamental, spec.external_depth_usd, spec.external_half_life_hours, anchor)
    return bridge


# -- pools -------------------------------------------------------------------------------
def _split(world: World, tokens: list[str], tvl_usd: float) -> dict[str, float]:
    """Token amounts worth tvl_usd in equal USD shares at reference prices."""
    return {t: tvl_usd / len(tokens) / world.usd(t) for t in tokens}


def _seed(world: World, holders: list[str], amounts: dict[str, float]) -> list[dict[str, float]]:
    """Fund each holder with an equal share of `amounts`; return the per-holder shares."""
    shares = [{t: a / len(holders) for t, a in amounts.items()} for _ in holders]
    for holder, share in zip(holders, shares, strict=True):
        for token, amount in share.items():
            world.fund(holder, token, amount)
    return shares


def _uniswap_v2(world: World, spec: UniswapV2, holders: list[str]) -> ConstantProductPool:
    pool = ConstantProductPool(world.ledger, spec.name, *spec.tokens, fee=spec.fee)
    amounts = _split(world, spec.tokens, spec.tvl_usd)
    for holder, share in zip(holders, _seed(world, holders, amounts), strict=True):
        pool.add_liquidity(holder, share)
    return pool


def _uniswap_v3(
    world: World, spec: UniswapV3, holders: list[str]
) -> ConcentratedLiquidityPool:
    token0, token1 = spec.tokens
    price = world.usd(token0) / world.usd(token1)  # token1 per token0
    spacing = FEE_TICK_SPACING[spec.fee]
    pool = ConcentratedLiquidityPool(
        world.ledger, spec.name, token0, token1, fee=spec.fee, tick_spacing=spacing,
        sqrt_price=math.sqrt(price),
    )
    for band in spec.ranges:
        lower, upper = ticks_around(price, band.width, spacing)
        amounts = _split(world, spec.tokens, spec.tvl_usd * band.share)
        for holder, share in zip(holders, _seed(world, holders, amounts), strict=True):
            pool.mint_for_amounts(holder, lower, upper, share[token0], share[token1])
    return pool


def _curve(world: World, spec: Curve, holders: list[str], where: str) -> StableSwapPool:
    prices = [world.usd(t) for t in spec.tokens]
    if max(prices) > min(prices) * (1 + STABLESWAP_PRICE_SPREAD):
        raise ConfigError(
            f"{where}.tokens: a StableSwap pool needs coins of about equal value, got prices "
            f"{dict(zip(spec.tokens, prices, strict=True))}"
        )
    pool = StableSwapPool(
        world.ledger, spec.name, spec.tokens, spec.amp, fee=spec.fee, admin_fee=spec.admin_fee
    )
    # Balanced in coin units (equal value up to the small spread allowed above).
    mean_price = sum(prices) / len(prices)
    amounts = {t: spec.tvl_usd / len(spec.tokens) / mean_price for t in spec.tokens}
    for holder, share in zip(holders, _seed(world, holders, amounts), strict=True):
        pool.add_liquidity(holder, share)
    return pool


# -- lending -----------------------------------------------------------------------------
def _oracle(
    world: World, asset: str, spec: OracleSpec, consumer: str, rounds: int
) -> Oracle:
    """The feed of `asset` for `consumer`. It runs on the model's round clock (`rounds`
    per step), so the spec's heartbeat, latency and TWAP window, counted in steps, are
    multiplied by it; it starts primed (`Oracle.prime`), readable from step 0."""
    if spec.source == "reference" and asset in world.reference:
        source: Any = world.reference[asset]
    elif spec.source == "reference":
        # A protocol-issued token: the feed prices it from its issuer's state (exchange
        # rate or pool reserves), as a Chainlink "exchange rate" adapter does for aTokens,
        # so a haircut at the issuer reaches this consumer's health factors mechanically.
        source = _TokenSource(world, asset)
    else:
        world.oracle_pools.setdefault(consumer, {})[asset] = spec.pool
        pool = world.pools[spec.pool]
        quote = next(t for t in pool.tokens if t != asset)
        # The pool prices `asset` in `quote`; the quote leg is valued at its reference price.
        source = TwapSource(
            lambda: pool.spot_price(asset, quote) * world.usd(quote), spec.window * rounds
        )
    return Oracle(
        asset, source, spec.heartbeat * rounds, spec.deviation, spec.latency * rounds
    )


def _rate_model(rate: RateModel) -> KinkedRate | JumpRate:
    if rate.model == "kinked":
        return KinkedRate(rate.base, rate.slope1, rate.slope2, rate.optimal)
    # Compound v2 jump model: slope1 is the multiplier below the kink, slope2 the jump.
    return JumpRate(rate.base, rate.slope1, rate.slope2, rate.optimal)


def _lending(world: World, spec: Lending, rounds: int) -> LendingMarket:
    reserves = {}
    for asset, r in spec.reserves.items():
        collateral = r.liquidation_threshold > 0
        reserves[asset] = ReserveParams(
            ltv=r.ltv,
            liquidation_threshold=r.liquidation_threshold,
            liquidation_bonus=r.liquidation_bonus if collateral else 0.0,
            reserve_factor=r.reserve_factor,
            rate_model=_rate_model(r.rate),
            liquidation_protocol_fee=r.liquidation_protocol_fee,
            supply_cap=r.supply_cap,
            borrow_cap=r.borrow_cap,
            borrowable=r.borrowable,
            usable_as_collateral=collateral,
        )
    oracles = {
        asset: _oracle(world, asset, r.oracle, spec.name, rounds)
        for asset, r in spec.reserves.items()
    }
    for oracle in oracles.values():
        oracle.prime(0)
    market = LendingMarket(
        world.ledger, spec.name, reserves, oracles, close_factor=spec.close_factor,
        close_factor_hf_threshold=spec.close_factor_hf_threshold,
    )
    world.oracles[spec.name] = oracles
    supplier = names.suppliers(spec.name)
    for asset, r in spec.reserves.items():
        if r.initial_supply > 0:
            world.fund(supplier, asset, r.initial_supply)
            market.supply(supplier, asset, r.initial_supply)
    return market


# -- option vaults -----------------------------------------------------------------------
def _vault(world: World, spec: OptionVaultSpec, scenario: Scenario) -> OptionVault:
    feed = Oracle(spec.underlying, _RatioSource(world, spec.underlying, spec.quote), 1, 0.0)
    feed.update(0)
    world.oracles[spec.name] = {spec.underlying: feed}
    epoch_steps = max(1, round(spec.epoch_days * 24.0 / scenario.step_hours))
    vault = OptionVault(
        world.ledger, spec.name, spec.underlying, spec.quote, feed, kind=spec.option,
        epoch_steps=epoch_steps, target_delta=spec.target_delta,
        steps_per_year=scenario.steps_per_year,
    )
    if spec.deposits > 0:
        depositor = names.depositors(spec.name)
        world.fund(depositor, vault.collateral, spec.deposits)
        vault.deposit(depositor, spec.deposits)
        # The desk's working capital at the start: premiums of every epoch of the horizon at
        # a generous 2 % of notional each, plus a buffer (the model adds what a dearer
        # epoch needs; this start only sets the desk's weight in the step-0 graph).
        epochs = scenario.steps // epoch_steps + 1
        world.fund(names.OPTIONS_DESK, vault.collateral, spec.deposits * (0.02 * epochs + 0.05))
    return vault


class _TokenSource:
    """USD price of a protocol-issued token, read from its issuer's state."""

    def __init__(self, world: World, token: str) -> None:
        self.world, self.token = world, token

    def read(self) -> float:
        return self.world.usd(self.token)


class _RatioSource:
    """Price of `base` in `quote` from the two reference prices (a Chainlink cross feed)."""

    def __init__(self, world: World, base: str, quote: str) -> None:
        self.world, self.base, self.quote = world, base, quote

    def read(self) -> float:
        return self.world.usd(self.base) / self.world.usd(self.quote)
