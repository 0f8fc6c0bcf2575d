"""The agents besides the treasury: arbitrageurs, liquidators, liquidity providers and
borrower cohorts."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from spec.fields import (
    Fraction,
    Name,
    NonNegative,
    PositiveUsd,
    Strict,
    Symbol,
    Token,
    Usd,
)


class Arbitrageurs(Strict):
    count: Annotated[int, Field(ge=0)] = 2
    capital_usd: Usd = 5e6
    gas_units: Annotated[int, Field(ge=0)] = 150_000


class Liquidators(Strict):
    """Liquidation bots: how many, their own capital, gas per liquidation, flash-loan fee.

    `flash_loan_fee` is the premium a flash loan costs, a fraction of the amount borrowed
    (0.0005 = 5 bps): by default Aave v3's `FLASHLOAN_PREMIUM_TOTAL`, which the Pool is
    deployed with from `FlashLoanPremiums.total = 0.0005e4` (in units of 1e4 = 100 %) in
    aave/aave-v3-deploy `markets/aave/commons.ts` (Aave docs, "Flash Loans": the premium is
    that Pool parameter)."""

    count: Annotated[int, Field(ge=0)] = 3
    capital_usd: Usd = 20e6
    #: flash-loan premium, a fraction of the amount borrowed (Aave v3: 0.0005).
    flash_loan_fee: Fraction = 0.0005
    gas_units: Annotated[int, Field(ge=0)] = 400_000


class LiquidityProviders(Strict):
    """LP agents (`agents.liquidity_provider`). Their Uniswap v3 positions are re-centred
    (`agents.ranges`) after `recentre_after` consecutive steps out of range, or when the
    tick is more than `recentre_band` x the range's half-width from its centre (0: never,
    the default for both), at `recentre_gas_units` per re-centring: burn + collect, swap,
    mint of a new position NFT - about 0.03 + 0.05 ETH at the 2021-22 average gas price
    (gov.uniswap.org, "Temperature check - upgrade the NonfungiblePositionManager", 2022:
    ~9,909 ETH over ~200k positions minted), ~700k gas at 70 gwei."""

    count: Annotated[int, Field(ge=0)] = 3
    flight_drawdown: Fraction = 0.15
    flight_share: Fraction = 0.3
    return_after: Annotated[int, Field(ge=1)] = 72
    recentre_after: Annotated[int, Field(ge=0)] = 0
    recentre_band: NonNegative = 0.0
    recentre_gas_units: Annotated[int, Field(ge=0)] = 700_000


class BorrowerCohort(Strict):
    """Positions opened at step 0 in `market`: collateral and debt assets, an initial
    health-factor distribution (lognormal around `hf_median`) and reaction behaviour."""

    market: Name
    collateral: Token
    debt: Symbol
    positions: Annotated[int, Field(ge=1, le=10_000_000)] = 500
    size_usd_median: PositiveUsd = 50_000.0
    size_usd_sigma: NonNegative = 1.0
    hf_median: Annotated[float, Field(gt=1.0)] = 1.6
    hf_sigma: NonNegative = 0.2
    reaction_delay: Annotated[int, Field(ge=0)] = 6
    topup_share: Fraction = 0.3
    repay_share: Fraction = 0.2
    leverup_hf: Annotated[float, Field(gt=1.0)] = 2.5


class Agents(Strict):
    arbitrageurs: Arbitrageurs = Arbitrageurs()
    liquidators: Liquidators = Liquidators()
    liquidity_providers: LiquidityProviders = LiquidityProviders()
    borrowers: list[BorrowerCohort] = []
