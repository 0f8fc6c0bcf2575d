"""The DAO treasury: holdings, operating spend, the allocation policy and the limits of its
trades."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from spec.fields import (
    MAX_UNITS,
    Fraction,
    Name,
    NonNegative,
    Positive,
    PositiveUsd,
    Strict,
    Symbol,
    Token,
    Units,
    Usd,
)


class Policy(Strict):
    """The treasury's allocation policy (`agents.policies`): a built-in `kind` (static,
    calendar, threshold, vol_target, cppi, risk_parity, delta_hedge, regime) or a dotted path
    to any class with a `decide(view)` method, built with `params` as keyword arguments.

    Parameters are flat so sweeps address them as `treasury.policy.target_vol`; each policy
    reads the ones it needs. `weights` (target shares of the free portfolio, keys: assets or
    venue tokens such as "aave:aUSDC") default to the initial holdings; `assets` (the risky
    sleeve) default to the non-stable assets held at the start; `safe_asset` defaults to
    `opex_token`. Steps: `every`, `half_life`. `floor`, `band`, `trigger`, `delta_band`,
    `target_delta` and `max_risky` are shares of NAV; `target_vol` is yearly.

    Borrowing. `borrow` asks for debts (USD per asset), opened once at the first step, in
    the first lending market that lends the asset against `collateral` (default: the
    treasury's own `token`, usually GOV), posting enough of it for health factor
    `borrow_hf` (Aave's, at the market's oracle prices). E.g. `borrow = {USDC = 2e6}`,
    `borrow_hf = 2.5` funds opex or diversification without selling GOV: the USDC lands
    in the free portfolio, pays opex and counts in the runway like any other; a rebalancing
    policy trades it toward its weights with the rest. The position is an ordinary one:
    when GOV falls until its health factor is below 1 the liquidators seize the GOV and
    sell it (event `liquidation`, owner `treasury`). `delta_hedge` with `hedge_with =
    "borrow"` borrows its hedge asset the same way.
    Keeping the buffer (`agents.treasury_buffer`; off unless set): each step, a position
    whose health factor fell below `hf_floor` is brought back to `borrow_hf` - topping up
    the collateral it holds from the free portfolio first, then repaying debt; one above
    `hf_ceiling` gets its excess collateral back down to `borrow_hf` (1 < hf_floor <
    borrow_hf < hf_ceiling).

    Forecasts (every policy's view, `agents.forecast`): `regime_source = "market"` filters
    with the scenario's own regime parameters when the market process is `regime`, "fit"
    (or another process) fits them by EM; fits (and the GARCH volatility's) from step
    `forecast_warmup`, then every `forecast_refit_every` steps. `regime` holds `max_risky`
    of the sleeve in the risky assets, `stress_risky` once the stress probability reaches
    `regime_threshold`, until it falls to `regime_exit` (default: half the threshold).

    A "<v3 pool>:v3" weight is held as one range of +-`v3_width` around the pool's price,
    re-centred (`agents.ranges`) after `v3_recentre_after` consecutive steps out of range
    or when the tick is more than `v3_recentre_band` x the half-width from the range's
    centre (0: never, the default for both), at 3 x the treasury's `gas_units`.
    """

    kind: str = "static"
    weights: dict[str, Fraction] = {}
    assets: list[Symbol] = []
    safe_asset: Symbol | None = None
    every: Annotated[int, Field(ge=1)] = 168
    band: Annotated[float, Field(gt=0.0, le=1.0)] = 0.05
    target_vol: Positive = 0.3
    half_life: Positive = 168.0
    max_risky: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    floor: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.8
    multiplier: Annotated[float, Field(ge=1.0)] = 3.0
    trigger: Fraction = 0.05
    method: Literal["inverse_vol", "erc"] = "inverse_vol"
    risky_share: Fraction | None = None
    hedge_asset: Symbol = "ETH"
    target_delta: Annotated[float, Field(ge=-1.0, le=1.0)] = 0.0
    delta_band: Annotated[float, Field(gt=0.0, le=1.0)] = 0.05
    hedge_with: Literal["sell", "borrow"] = "sell"
    #: delta_hedge's option budgets (None: off), shares of NAV: |gamma| x S^2 / 100 / NAV
    #: (the change of the delta share for a 1 % move) and |vega| / NAV (per vol point).
    gamma_budget: NonNegative | None = None
    vega_budget: NonNegative | None = None
    borrow: dict[str, Usd] = {}
    collateral: Symbol | None = None
    borrow_hf: Annotated[float, Field(gt=1.0)] = 2.0
    hf_floor: Annotated[float, Field(gt=1.0)] | None = None
    hf_ceiling: Annotated[float, Field(gt=1.0)] | None = None
    v3_width: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.2
    regime_threshold: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.5
    regime_exit: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None
    stress_risky: Fraction = 0.0
    regime_source: Literal["market", "fit"] = "market"
    forecast_warmup: Annotated[int, Field(ge=2)] = 168
    forecast_refit_every: Annotated[int, Field(ge=1)] = 168
    v3_recentre_after: Annotated[int, Field(ge=0)] = 0
    v3_recentre_band: NonNegative = 0.0
    params: dict[str, object] = {}

    @model_validator(mode="after")
    def _weights_sum_to_one(self) -> Policy:
        # Whether `kind` names an importable policy is checked with the scenario's
        # cross-references (sim.scenario): this package imports nothing but pydantic.
        if self.weights and abs(sum(self.weights.values()) - 1.0) > 1e-6:
            raise ValueError(f"weights: must sum to 1, got {sum(self.weights.values()):g}")
        if self.hf_floor is not None and self.hf_floor >= self.borrow_hf:
            raise ValueError(f"hf_floor: must be below borrow_hf ({self.borrow_hf:g}), "
                             f"got {self.hf_floor:g}")
        if self.hf_ceiling is not None and self.hf_ceiling <= self.borrow_hf:
            raise ValueError(f"hf_ceiling: must be above borrow_hf ({self.borrow_hf:g}), "
                             f"got {self.hf_ceiling:g}")
        if self.regime_exit is not None and self.regime_exit >= self.regime_threshold:
            raise ValueError(f"regime_exit: must be below regime_threshold "
                             f"({self.regime_threshold:g}), got {self.regime_exit:g}")
        return self


class ForcedSale(Strict):
    """Forced selling of risk assets, the DAO's own token first, when the runway runs short.

    Each step, after opex and before the policy (`agents.treasury_forced`), while the
    runway (months of opex the treasury's USD stablecoins pay, borrowed ones included) is
    below `runway_floor_months`, the allocator sells the DAO's own `token` and then the
    other risk assets in its wallet, largest first, for the opex token until the runway is
    back at `restore_months` - accepting up to `max_slippage` below reference value. A
    sale the pools cannot fill is retried next step. `runway_floor_months = 0` (the
    default) is off; without opex the runway is unbounded and nothing is ever sold.

    `max_slippage` defaults to 10 %: a DAO that must pay its contributors sells into
    whatever depth there is - far more than the 2 % a discretionary rebalancer accepts -
    but not at any price into a drained pool."""

    runway_floor_months: NonNegative = 0.0
    restore_months: Positive = 12.0
    max_slippage: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.1

    @model_validator(mode="after")
    def _restore_above_floor(self) -> ForcedSale:
        if self.runway_floor_months > 0 and self.restore_months <= self.runway_floor_months:
            raise ValueError(
                f"restore_months: must be above runway_floor_months "
                f"({self.runway_floor_months:g}), got {self.restore_months:g}")
        return self


ACTION_KINDS = ("sell", "buy", "deposit", "withdraw", "borrow", "repay", "provide", "remove")
#: the amount fields an action kind accepts (exactly one is given)
ACTION_AMOUNTS = {
    "sell": ("units", "usd", "share"), "buy": ("units", "usd"),
    "deposit": ("units", "usd", "share"), "withdraw": ("units", "usd", "share"),
    "borrow": ("units", "usd"), "repay": ("units", "usd", "share"),
    "provide": ("usd",), "remove": ("usd", "share"),
}


class Action(Strict):
    """One thing the DAO does (a governance proposal executed; `agents.treasury_actions`),
    spread over `steps` steps from step `start` as TWAP tranches.

    `kind` and `asset`: sell `asset` for `into`, buy `asset` with `with` (both default to
    the policy's safe asset, else `opex_token`), deposit `asset` to / withdraw it from the
    lending market `venue`, borrow / repay `asset` (in `venue`, default: the first market
    lending it against `collateral`, which defaults as for `policy.borrow`; collateral is
    posted for health factor `policy.borrow_hf`), provide liquidity to / remove it from the
    pool whose venue token `asset` is ("univ2-GOV-ETH:LP", "univ3-ETH-USDC:v3").

    The amount is exactly one of `units` (whole units of `asset`), `usd` (USD at the
    reference price when each tranche is due) or `share` (of the holding when the action
    starts: the wallet's `asset` for sell and deposit, the deposit for withdraw, the debt
    for repay, the venue holding for remove). A buy or borrow has no holding to take a
    share of, and liquidity is provided in `usd`.

    Tranches catch up: at each step of the window the tranche is (intended - done so far)
    / (steps left), so a tranche the pools could not fill is retried by the next ones; what
    is not done when the window ends is the shortfall. Swaps stay within `max_slippage`
    (default the treasury's) below reference value, fees included.

    A rebalancing policy trades the book the actions leave toward its weights: calendar
    and threshold policies without `weights` (the initial holdings) would trade a sale
    back, so the scenario check refuses that combination (`sim.checks`)."""

    kind: Literal["sell", "buy", "deposit", "withdraw", "borrow", "repay", "provide", "remove"]
    asset: Token
    into: Symbol | None = None
    with_: Symbol | None = Field(default=None, alias="with")
    venue: Name | None = None
    collateral: Symbol | None = None
    units: Annotated[float, Field(gt=0.0, le=MAX_UNITS)] | None = None
    usd: PositiveUsd | None = None
    share: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    start: Annotated[int, Field(ge=1)]
    steps: Annotated[int, Field(ge=1)] = 1
    max_slippage: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None

    @property
    def end(self) -> int:
        """The window's last step."""
        return self.start + self.steps - 1

    @property
    def measure(self) -> str:
        """What intended and done are counted in: "usd" for a `usd` amount, else "units"
        (of `asset`; a share becomes units at the start)."""
        return "usd" if self.usd is not None else "units"

    @model_validator(mode="after")
    def _fields_fit_the_kind(self) -> Action:
        kind, allowed = self.kind, ACTION_AMOUNTS[self.kind]
        given = [f for f in ("units", "usd", "share") if getattr(self, f) is not None]
        if not given:
            raise ValueError(f"{allowed[0]}: a {kind} needs exactly one of {', '.join(allowed)}")
        if len(given) > 1:
            raise ValueError(f"{given[1]}: give exactly one of units, usd, share "
                             f"(got {' and '.join(given)})")
        if given[0] not in allowed:
            raise ValueError(f"{given[0]}: a {kind} is sized by {' or '.join(allowed)}")
        venue_kind = kind in ("provide", "remove")
        if venue_kind != (":" in self.asset):
            raise ValueError(
                "asset: a provide or remove names a pool's venue token ('<pool>:LP', "
                f"'<v3 pool>:v3'), got {self.asset!r}" if venue_kind
                else f"asset: a {kind} names an asset, got {self.asset!r}")
        for field, kinds in (("into", ("sell",)), ("with", ("buy",)),
                             ("collateral", ("borrow",)),
                             ("venue", ("deposit", "withdraw", "borrow", "repay"))):
            value = self.with_ if field == "with" else getattr(self, field)
            if value is not None and kind not in kinds:
                raise ValueError(f"{field}: not used by a {kind} (only {', '.join(kinds)})")
        if kind in ("deposit", "withdraw") and self.venue is None:
            raise ValueError(f"venue: a {kind} needs the lending market's name")
        if self.into is not None and self.into == self.asset:
            raise ValueError(f"into: sells {self.asset} for itself")
        if self.with_ is not None and self.with_ == self.asset:
            raise ValueError(f"with: buys {self.asset} with itself")
        return self


class Treasury(Strict):
    """The DAO's holdings (whole tokens) and monthly operating spend (USD, in `opex_token`,
    paid every step pro rata to `opex:payees`), its allocation `policy`, and the limits of
    the allocator's trades: `max_slippage` (execution below reference value, fees included),
    `min_trade_usd` and `gas_units` per swap hop or venue action.

    `token` is the DAO's own governance token: sold first by a `forced_sale`, and the
    collateral `policy.borrow` posts unless `policy.collateral` names another asset. It
    must be an asset of the scenario where it is used (forced selling on, or borrowing
    against it).

    `actions` are what the DAO does on a schedule (`Action`): each step they run after the
    opex and any forced sale and before the policy, which sees the book they leave."""

    #: Whole tokens; a vault's "<vault>:shares" in shares, bought at the first roll's
    #: price per share (1 collateral unit each when the vault opens with the run).
    holdings: dict[str, Units] = {}
    #: USD the treasury holds at the start in venues, keyed as policy weights name them
    #: ("aave:aUSDC", "<pool>:LP", "<v3 pool>:v3", "<vault>:shares"): the base assets a
    #: venue takes are given to the treasury and deposited before step 1, with no trade.
    venues: dict[str, PositiveUsd] = {}
    opex_usd_per_month: Usd = 0.0
    opex_token: Symbol = "USDC"
    policy: Policy = Policy()
    max_slippage: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.02
    min_trade_usd: Usd = 10_000.0
    gas_units: Annotated[int, Field(ge=0)] = 200_000
    token: Symbol = "GOV"
    forced_sale: ForcedSale = ForcedSale()
    actions: list[Action] = []
