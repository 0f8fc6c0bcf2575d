"""Chainlink-style push oracle fed by a price source (off-chain reference or AMM TWAP).

A *source* is any object with `read() -> float` (the current raw price: the off-chain market
of `protocols.offchain`, or a pool's TWAP); a source that also
has `observe(step)` (a TWAP) is observed by the oracle once per step before it is read.
The `Oracle` turns the raw price into on-chain rounds with Chainlink OCR's trigger rules
(deviation threshold, heartbeat) and delays each round's visibility by a fixed latency, so
consumers (lending markets, vaults) see a stale, stepwise price like the real feed.
"""

import math
from collections import deque
from collections.abc import Callable
from typing import Protocol

from protocols.errors import DaosimError, InvalidAmount
from protocols.validation import check_amount, check_fraction


class PriceSource(Protocol):
    def read(self) -> float: ...


def _check_price(name: str, value: float) -> float:
    return check_amount(name, value, allow_zero=False)


def _check_step(name: str, value: int, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAmount(f"{name}: must be an integer, got {value!r}")
    if value < minimum:
        raise InvalidAmount(f"{name}: must be >= {minimum}, got {value}")
    return value


class TwapSource:
    """Time-weighted average of `spot()` over the last `window` steps (one sample per step).

    Uniswap v2 (UniswapV2Pair._update, UniswapV2OracleLibrary.currentCumulativePrices,
    ExampleOracleSimple.update): price0CumulativeLast grows by price * seconds elapsed, and
    the TWAP is (cumulative_now - cumulative_then) / elapsed - with one sample per step each
    lasting one step, that is the arithmetic mean of the last `window` samples.
    `geometric=True` is the Uniswap v3 oracle (OracleLibrary.consult): the arithmetic mean of
    ticks log_1.0001(price), i.e. the geometric mean of price (v3 floors the mean tick to an
    integer; floats keep it exact). With fewer than `window` samples, averages what there is.
    A sample is taken once per step, so intra-step manipulation of the spot cannot move it.
    """

    def __init__(self, spot: Callable[[], float], window: int, *, geometric: bool = False) -> None:
        if not callable(spot):
            raise InvalidAmount(f"spot: must be callable, got {spot!r}")
        window = _check_step("window", window, minimum=1)
        self._spot = spot
        self._geometric = bool(geometric)
        self._samples: deque[float] = deque(maxlen=window)
        self._last_step: int | None = None

    def observe(self, step: int) -> None:
        """Record spot() as this step's sample; a second call in the same step is ignored."""
        step = _check_step("step", step)
        last = self._last_step
        if last is not None and step < last:
            raise InvalidAmount(f"step: {step} is before the last observation {last}")
        if step == last:
            return
        price = _check_price("spot price", self._spot())
        self._samples.append(math.log(price) if self._geometric else price)
        self._last_step = step

    def read(self) -> float:
        if not self._samples:
            raise DaosimError("TwapSource: no observation yet (call observe first)")
        mean = math.fsum(self._samples) / len(self._samples)
        return math.exp(mean) if self._geometric else mean


class Oracle:
    """Push feed: rounds are created by OCR trigger rules and become visible after `latency`.

    Trigger rules (Chainlink libocr, median plugin `numericalMedian.shouldReport` and
    `deviates`): report when there is no round yet, when |raw - last| / last > deviation
    (strict), or when the heartbeat (deltaC) has elapsed since the last round; in whole
    steps the heartbeat fires at step - last_round_step >= heartbeat. `last` is the latest
    *created* round, pending or not (ShouldAcceptFinalizedReport compares against the latest
    accepted median), so an in-flight round is not re-reported every step.
    `heartbeat` and `latency` are in steps, `deviation` a fraction.
    """

    def __init__(
        self,
        asset: str,
        source: PriceSource,
        heartbeat: int = 24,
        deviation: float = 0.005,
        latency: int = 0,
    ) -> None:
        if not isinstance(asset, str) or not asset:
            raise InvalidAmount(f"asset: must be a non-empty string, got {asset!r}")
        if not callable(getattr(source, "read", None)):
            raise InvalidAmount(f"source: must have a read() method, got {source!r}")
        self.asset = asset
        self.source = source
        self.heartbeat = _check_step("heartbeat", heartbeat, minimum=1)
        self.deviation = check_fraction("deviation", deviation, upper_open=True)
        self.latency = _check_step("latency", latency)
        self._frozen = False
        self._last_step: int | None = None  # last step passed to update()
        self._last_round: tuple[int, float] | None = None  # (created step, answer)
        self._in_flight: deque[tuple[int, float]] = deque()  # (visible step, answer)
        self._visible: tuple[int, float] | None = None  # (visible step, answer)

    # -- reads ----------------------------------------------------------------------------
    @property
    def price(self) -> float:
        """Latest visible answer (Chainlink latestRoundData().answer)."""
        if self._visible is None:
            raise DaosimError(f"oracle {self.asset}: no round visible yet")
        return self._visible[1]

    @property
    def last_update_step(self) -> int | None:
        """Step the visible answer landed on chain (latestRoundData().updatedAt), or None."""
        return None if self._visible is None else self._visible[0]

    def age(self, step: int) -> int:
        """Steps since the visible answer landed: what a staleness check compares."""
        if self._visible is None:
            raise DaosimError(f"oracle {self.asset}: no round visible yet")
        return _check_step("step", step) - self._visible[0]

    @property
    def frozen(self) -> bool:
        return self._frozen

    # -- writes ---------------------------------------------------------------------------
    def freeze(self) -> None:
        """Stop creating rounds (feed outage): the visible answer goes stale."""
        self._frozen = True

    def unfreeze(self) -> None:
        self._frozen = False

    def prime(self, step: int) -> None:
        """Start the feed at `step` with the round it would have published before the run:
        the source's price now, created `latency` steps earlier and so visible at once (the
        run's history before `step` is taken as flat at that price). Without it a feed with
        latency N would have no answer for its first N steps."""
        step = _check_step("step", step)
        observe = getattr(self.source, "observe", None)
        if observe is not None:
            observe(step)
        raw = _check_price(f"oracle {self.asset}: source price", self.source.read())
        self._last_round = self._visible = (step - self.latency, raw)
        self._last_step = step

    def update(self, step: int) -> bool:
        """Advance the feed to `step`; return True if a new round was created.

        Observes TWAP sources, creates a round if a trigger fires (never while frozen), then
        makes visible every round created at or before step - latency. Rounds already in
        flight still land while frozen. Steps must not go backwards; repeating a step is
        allowed (e.g. re-reading after liquidations moved a pool).
        """
        step = _check_step("step", step)
        if self._last_step is not None and step < self._last_step:
            raise InvalidAmount(f"step: {step} is before the last update {self._last_step}")
        observe = getattr(self.source, "observe", None)
        if observe is not None:
            observe(step)
        created = False
        if not self._frozen:
            raw = self.source.read()
            if type(raw) is not float or not 0.0 < raw < math.inf:  # named only when wrong
                raw = _check_price(f"oracle {self.asset}: source price", raw)
            if self._should_report(step, raw):
                self._last_round = (step, raw)
                self._in_flight.append((step + self.latency, raw))
                created = True
        self._last_step = step
        while self._in_flight and self._in_flight[0][0] <= step:
            self._visible = self._in_flight.popleft()
        return created

    def _should_report(self, step: int, raw: float) -> bool:
        if self._last_round is None:
            return True
        last_step, last = self._last_round
        return abs(raw - last) / last > self.deviation or step - last_step >= self.heartbeat
