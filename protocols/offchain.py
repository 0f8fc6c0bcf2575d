"""The off-chain (CEX) market of one asset: an exogenous fundamental price, and the traded
price that net off-chain flow pushes away from it and that relaxes back over time.

Impact model: a linear propagator with an exponential kernel (Bouchaud, Gefen, Potters and
Wyart 2004, "Fluctuations and response in financial markets: the subtle nature of 'random'
price changes", Quantitative Finance 4(2); Obizhaeva and Wang 2013, "Optimal trading
strategy and supply/demand dynamics", Journal of Financial Markets 16(1)). Gatheral 2010
("No-dynamic-arbitrage and market impact", Quantitative Finance 10(7)) shows that impact
linear in size is the form that admits no price manipulation with an exponential decay
kernel, where the square-root law does not - which is why this one is used. It acts on the
log price, so a price can never be pushed to or below zero:

    traded = fundamental * exp(I),   dI = k * (USD bought - USD sold),   k = 0.01 / depth

so `depth_usd` of net flow moves the log price by 0.01 (about 1 %). Between trades the
impact relaxes towards a permanent part: the kernel is G(t) = 2/3 + 1/3 * 2^(-t / half_life),
so a trade's impact decays with the given half-life to two thirds of its peak, the
permanent impact of "fair pricing" (Farmer, Gerig, Lillo and Waelbroeck 2013, "How
efficiency shapes market impact", Quantitative Finance 13(11); measured at about 2/3 on
Bitcoin by Donier and Bonart 2015, "A million metaorder analysis of market impact on the
Bitcoin", Market Microstructure and Liquidity 1(2)).

A trade pays the average price over its own impact: selling x units from impact I0
receives (I0 - I1) / k USD with 1/P1 = 1/P0 + k x, i.e. log1p(k x P0) / k; spending q USD
receives (1 - exp(-k q)) / (k P0) units. Unlimited depth (k = 0) is a purely exogenous
price at which any amount trades.

No Mesa and no randomness: the model sets the fundamental and decays the impact, the world
routes trades through it (`protocols.world.World.trade_offchain`).
"""

from __future__ import annotations

import math

from protocols.errors import InvalidAmount
from protocols.validation import check_amount

#: Log-price move per `depth_usd` of net flow.
IMPACT_PER_DEPTH = 0.01
#: Share of a trade's impact that never decays (module doc).
PERMANENT_SHARE = 2.0 / 3.0


class OffchainMarket:
    """One asset's off-chain market; see the module doc. `depth_usd` None or inf is
    unlimited depth (the traded price is the fundamental). An asset pegged to another
    (stETH to ETH) trades against its `anchor`'s market: the anchor's impact moves it too,
    so a sale of ETH drags stETH with it and the pair's ratio is the peg's, not an
    arbitrage between a moved and an unmoved price."""

    def __init__(
        self,
        price: float,
        depth_usd: float | None = None,
        half_life_hours: float = 1.0,
        anchor: OffchainMarket | None = None,
    ) -> None:
        self._fundamental = check_amount("price", price, allow_zero=False)
        if depth_usd is None or depth_usd == math.inf:
            self._k = 0.0
        else:
            depth = check_amount("depth_usd", depth_usd, allow_zero=False)
            self._k = IMPACT_PER_DEPTH / depth
        half_life = check_amount("half_life_hours", half_life_hours, allow_zero=False)
        self._decay_per_hour = math.log(2.0) / half_life
        self._permanent = 0.0
        self._transient = 0.0
        self._anchor = anchor
        #: the traded price since the last write (None: to compute); only without an anchor,
        #: whose own writes would not reach it
        self._price: float | None = None

    # -- reads ----------------------------------------------------------------------------
    def read(self) -> float:
        """The traded price: what oracles reading the reference and every valuation see.
        Read far more often than written (every valuation), so it is kept until a write."""
        price = self._price
        if price is None:
            impact = self.impact
            price = self._fundamental * math.exp(impact) if impact else self._fundamental
            if self._anchor is None:
                self._price = price
        return price

    @property
    def fundamental(self) -> float:
        return self._fundamental

    @property
    def impact(self) -> float:
        """log(traded / fundamental): this market's impact, plus its anchor's."""
        own = self._permanent + self._transient
        return own + self._anchor.impact if self._anchor is not None else own

    @property
    def unlimited(self) -> bool:
        return self._k == 0.0

    @property
    def impact_per_usd(self) -> float:
        """k: the log-price move per USD of this market's own net flow."""
        return self._k

    @property
    def anchor(self) -> OffchainMarket | None:
        return self._anchor

    def quote_sell(self, units: float) -> float:
        """USD received for selling `units` now (average price over the sale's own impact)."""
        price = self.read()
        if self._k == 0.0:
            return units * price
        return math.log1p(self._k * units * price) / self._k

    def quote_buy(self, usd: float) -> float:
        """Units received for spending `usd` now."""
        price = self.read()
        if self._k == 0.0:
            return usd / price
        return -math.expm1(-self._k * usd) / (self._k * price)

    # -- writes ---------------------------------------------------------------------------
    def set(self, price: float) -> None:
        """Move the fundamental (the exogenous path); the impact carries over."""
        self._fundamental = check_amount("price", price, allow_zero=False)
        self._price = None

    def sell(self, units: float) -> float:
        """Sell `units`: returns the USD received and pushes the price down by its impact."""
        usd = self.quote_sell(check_amount("units", units))
        self._push(-self._k * usd)
        return usd

    def buy(self, usd: float) -> float:
        """Spend `usd`: returns the units received and pushes the price up by its impact."""
        units = self.quote_buy(check_amount("usd", usd))
        self._push(self._k * usd)
        return units

    def decay(self, hours: float) -> None:
        """Let the transient impact relax for `hours` (the given half-life)."""
        if hours < 0:
            raise InvalidAmount(f"hours: must be >= 0, got {hours}")
        if self._transient:
            self._transient *= math.exp(-self._decay_per_hour * hours)
            self._price = None

    def _push(self, move: float) -> None:
        self._permanent += PERMANENT_SHARE * move
        self._transient += (1.0 - PERMANENT_SHARE) * move
        self._price = None
