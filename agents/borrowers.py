"""Borrower cohorts: thousands of Aave positions of one market owned by one agent.

The cohort opens its positions at creation in one vectorized `market.open_positions` call,
all owned by the ledger holder f"borrowers:{unique_id}" (which receives the borrowed cash),
and keeps per-position state as numpy arrays aligned with its contiguous position ids:
`target_hf` (the initial health factor each owner wants) and `below` (consecutive steps
observed with HF < TRIGGER_HF). Each step costs a few vector operations over the cohort; the
market's per-position methods are called only for the positions that act.

Behaviour per step (HF at the market's oracle prices, as the contract computes it):
- a position whose `below` counter reaches reaction_delay + 1 (it has stayed below the
  trigger for `reaction_delay` steps before this one) reacts once per episode: with
  probability `topup_share` it deposits collateral, with `repay_share` it repays debt, both
  restoring its target HF; otherwise it stays passive until its HF recovers above the
  trigger and falls again;
- a position whose HF exceeds `leverup_hf` and its target by more than REBALANCE_BAND
  borrows back to its target.
Top-ups and repayments the cohort's wallet cannot cover come from outside (`world.fund`).

The reaction draw of position i at step t is the i-th uniform of a counter-based generator
(Philox, Salmon et al. 2011) keyed by the cohort's own seed with t in its counter: it does
not depend on how many positions of this or another cohort reacted before, so a run
without the crash (`sim.counterfactual`) or with another parameter draws the same number
for every (cohort, step, position) - common random numbers down to each borrower.
"""

from __future__ import annotations

import mesa
import numpy as np

from agents import event_kinds
from agents.host import Host
from protocols import names
from protocols.errors import ConfigError, DaosimError, InsufficientLiquidity
from protocols.lending import CapExceeded, InsufficientCollateral
from protocols.lending.health import ratio_or_inf
from spec import BorrowerCohort as CohortSpec

#: Owners start watching a position when its health factor falls below this.
TRIGGER_HF = 1.1
#: Relative headroom of the initial HF over LT/LTV, so float rounding never makes an opening
#: borrow exceed collateral x LTV.
HF_MARGIN = 1e-9
#: Owners do not lever up for drifts above their target HF smaller than this share of it.
REBALANCE_BAND = 0.01


class BorrowerCohort(mesa.Agent):
    """`spec.positions` positions of collateral `spec.collateral` and debt `spec.debt` in
    market `spec.market`; see the module doc."""

    def __init__(self, model: Host, spec: CohortSpec,
                 draws: np.random.SeedSequence | None = None) -> None:
        """`draws` seeds the reaction draws (the model gives each cohort its own stream);
        None takes a seed from the host's `rng`."""
        world = model.world
        market = world.markets.get(spec.market)
        if market is None:
            raise ConfigError(f"market: no lending market named {spec.market!r}")
        for field in ("collateral", "debt"):
            if getattr(spec, field) not in market.assets:
                raise ConfigError(
                    f"{field}: {getattr(spec, field)!r} is not a reserve of {market.name}"
                )
        params = market.reserves[spec.collateral]
        if not params.usable_as_collateral or params.ltv == 0:
            raise ConfigError(f"collateral: {spec.collateral} has no LTV in {market.name}")
        if not market.reserves[spec.debt].borrowable:
            raise ConfigError(f"debt: borrowing {spec.debt} is disabled in {market.name}")
        if spec.topup_share + spec.repay_share > 1:
            raise ConfigError(
                f"repay_share: topup_share + repay_share must be <= 1, got "
                f"{spec.topup_share} + {spec.repay_share}"
            )
        super().__init__(model)
        self.spec = spec
        self.market = market
        self.holder = names.agent(names.BORROWER, self.unique_id)
        self._c = market.assets.index(spec.collateral)
        self._d = market.assets.index(spec.debt)
        self._lt = np.array(
            [
                market.reserves[a].liquidation_threshold * market.reserves[a].usable_as_collateral
                for a in market.assets
            ]
        )
        self.pids, self.target_hf = self._open(spec)
        self._rows = slice(int(self.pids[0]), int(self.pids[-1]) + 1)
        self.below = np.zeros(spec.positions, dtype=np.int64)
        if draws is None:
            draws = np.random.SeedSequence(int(model.rng.integers(2**63)))
        self._key = draws.generate_state(2, dtype=np.uint64)

    def _open(self, spec: CohortSpec) -> tuple[np.ndarray, np.ndarray]:
        """Draw sizes and target HFs, fund the collateral, open every position at once.

        Collateral value ~ lognormal(median size_usd_median, sigma size_usd_sigma) at the
        reference price; HF ~ lognormal(median hf_median, sigma hf_sigma), floored at LT/LTV
        (the HF of a position borrowing its full LTV); debt = collateral value x LT / HF at
        the oracle prices (GenericLogic.calculateUserAccountData solved for the debt).
        On a refusal the funding and the agent are undone and the error re-raised.
        """
        world, market, rng = self.model.world, self.market, self.model.rng
        n, c, d = spec.positions, self._c, self._d
        params = market.reserves[spec.collateral]
        size_usd = rng.lognormal(np.log(spec.size_usd_median), spec.size_usd_sigma, n)
        floor = params.liquidation_threshold / params.ltv * (1.0 + HF_MARGIN)
        target = np.maximum(rng.lognormal(np.log(spec.hf_median), spec.hf_sigma, n), floor)
        prices = self._prices()
        collateral = np.zeros((n, len(market.assets)))
        debt = np.zeros_like(collateral)
        collateral[:, c] = size_usd / world.usd(spec.collateral)
        debt[:, d] = collateral[:, c] * prices[c] * self._lt[c] / target / prices[d]
        # The market sums per owner in its own order: fund one part in 1e9 more than needed.
        funded = float(collateral[:, c].sum()) * (1.0 + 1e-9)
        world.fund(self.holder, spec.collateral, funded)
        try:
            pids = market.open_positions([self.holder] * n, collateral, debt)
        except DaosimError:
            issuer = world.ledger.issuer_of(spec.collateral)
            world.ledger.burn(spec.collateral, self.holder, funded, by=issuer)
            self.remove()
            raise
        return pids, target

    # -- the step ------------------------------------------------------------------------
    def step(self) -> None:
        """Update the below-trigger counters, let this step's reacting owners top up or
        repay and the over-collateralized ones lever up; record what happened."""
        spec, c, d = self.spec, self._c, self._d
        prices = self._prices()
        weighted, debt_value = self._values(prices)
        hf = ratio_or_inf(weighted, debt_value)
        at_risk = hf < TRIGGER_HF
        self.below = np.where(at_risk, self.below + 1, 0)
        reacting = np.flatnonzero(self.below == spec.reaction_delay + 1)
        draw = self.uniforms(reacting)
        topup = reacting[draw < spec.topup_share]
        repay = reacting[(draw >= spec.topup_share) & (draw < spec.topup_share + spec.repay_share)]
        target = self.target_hf
        lever = np.flatnonzero(hf > np.maximum(spec.leverup_hf, target * (1 + REBALANCE_BAND)))

        # Restore HF = target: W + x p_c LT_c = target D (top-up), W = target (D - y p_d)
        # (repay), W = target (D + z p_d) (lever up).
        w, dv, t = weighted, debt_value, target
        topped = self._top_up(*_positive(topup, (t * dv - w)[topup] / (prices[c] * self._lt[c])))
        repaid = self._repay(*_positive(repay, (dv - w / t)[repay] / prices[d]))
        borrowed = self._borrow(*_positive(lever, (w / t - dv)[lever] / prices[d]))
        if topped[0] or repaid[0] or borrowed[0]:
            self.model.record(
                event_kinds.BORROWERS,
                actor=self.holder,
                market=self.market.name,
                at_risk=int(at_risk.sum()),
                reacting=int(reacting.size),
                topups=topped[0],
                topup_collateral=topped[1],
                repays=repaid[0],
                repaid_debt=repaid[1],
                leverups=borrowed[0],
                borrowed_debt=borrowed[1],
            )

    def _top_up(self, rows: list[int], amounts: list[float]) -> tuple[int, float]:
        """deposit_collateral for each row, funded from outside; (count, total) done."""
        asset, count, total = self.spec.collateral, 0, 0.0
        for row, amount in zip(rows, amounts, strict=True):
            self._hold(asset, amount)
            try:
                self.market.deposit_collateral(self._rows.start + row, asset, amount)
            except CapExceeded:
                continue
            count, total = count + 1, total + amount
        return count, total

    def _repay(self, rows: list[int], amounts: list[float]) -> tuple[int, float]:
        """repay for each row from the wallet, topped up from outside; (count, total) done."""
        asset, count, total = self.spec.debt, 0, 0.0
        for row, amount in zip(rows, amounts, strict=True):
            self._hold(asset, amount)
            total += self.market.repay(self._rows.start + row, asset, amount)
            count += 1
        return count, total

    def _borrow(self, rows: list[int], amounts: list[float]) -> tuple[int, float]:
        """borrow for each row where cash, caps and LTV allow; (count, total) done."""
        asset, count, total = self.spec.debt, 0, 0.0
        for row, amount in zip(rows, amounts, strict=True):
            try:
                self.market.borrow(self._rows.start + row, asset, amount)
            except (InsufficientLiquidity, CapExceeded, InsufficientCollateral):
                continue
            count, total = count + 1, total + amount
        return count, total

    def uniforms(self, rows: np.ndarray) -> np.ndarray:
        """This step's uniform draw of each position in `rows` (ascending cohort rows):
        element i of the cohort's Philox stream for (key, step), whatever else is drawn."""
        if rows.size == 0:
            return np.empty(0)
        counter = np.array([0, int(self.model.steps), 0, 0], dtype=np.uint64)
        bits = np.random.Philox(key=self._key, counter=counter)
        return np.random.Generator(bits).random(int(rows[-1]) + 1)[rows]

    # -- reads ---------------------------------------------------------------------------
    def health_factors(self) -> np.ndarray:
        """HF of the cohort's positions, in `pids` order."""
        return ratio_or_inf(*self._values(self._prices()))

    def _values(self, prices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(sum coll x price x LT, sum debt x price) per cohort position: the two sides of
        GenericLogic.calculateUserAccountData's HF, vectorized over the cohort's rows."""
        market = self.market
        index = np.array([market.exchange_rate(a) for a in market.assets])
        borrow_index = np.array([market.borrow_index(a) for a in market.assets])
        weighted = market.collateral_scaled[self._rows] @ (index * prices * self._lt)
        debt_value = market.debt_scaled[self._rows] @ (borrow_index * prices)
        return weighted, debt_value

    def _prices(self) -> np.ndarray:
        return np.array([self.market.oracles[a].price for a in self.market.assets], dtype=float)

    def _hold(self, asset: str, amount: float) -> None:
        """Make the wallet hold `amount`: when short, bring in `amount` from outside (the
        whole amount, so float rounding of a shortfall can never leave it a wei short)."""
        if self.model.world.ledger.balance_of(self.holder, asset) < amount:
            self.model.world.fund(self.holder, asset, amount)


def _positive(rows: np.ndarray, amounts: np.ndarray) -> tuple[list[int], list[float]]:
    """The rows with a positive amount, as Python numbers for the per-position calls."""
    keep = amounts > 0
    return rows[keep].tolist(), amounts[keep].tolist()
