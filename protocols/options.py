"""Black-Scholes-Merton prices and Greeks for European options, vectorized over numpy arrays.

No dividends, continuous compounding (Hull, Options, Futures and Other Derivatives, ch. 15
eq. 15.20-15.21 for prices, ch. 19 for the Greeks). Time `t` and `rate` are in years,
`vol` is the yearly volatility as a fraction (0.8 = 80 %). Scalars in -> floats out; arrays
broadcast against each other and give arrays out.
"""

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import brentq
from scipy.special import ndtr, ndtri

from protocols.errors import InvalidAmount

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class Greeks(NamedTuple):
    """Option value and sensitivities; vega per 1.0 of vol, theta per year (both Hull's)."""

    price: float | NDArray[np.float64]
    delta: float | NDArray[np.float64]
    gamma: float | NDArray[np.float64]
    vega: float | NDArray[np.float64]
    theta: float | NDArray[np.float64]


def _array(name: str, value: ArrayLike, *, lower: float | None, strict: bool) -> NDArray:
    """`value` as a float array if every element is finite and above `lower`, else raise."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        raise InvalidAmount(f"{name}: must be a number or an array of numbers, got {value!r}")
    arr = arr.astype(np.float64, copy=False)
    bad = ~np.isfinite(arr)
    if lower is not None:
        bad |= (arr <= lower) if strict else (arr < lower)
    if bad.any():
        need = "finite" if lower is None else f"finite and {'>' if strict else '>='} {lower:g}"
        raise InvalidAmount(f"{name}: must be {need}, got {arr[bad].flat[0]!r}")
    return arr


def _is_call(value: ArrayLike) -> NDArray[np.bool_]:
    arr = np.asarray(value)
    if arr.dtype != np.bool_:
        raise InvalidAmount(f"is_call: must be a bool or an array of bools, got {value!r}")
    return arr


def _out(*arrays: NDArray) -> tuple:
    """Arrays back to floats when every input was a scalar."""
    if arrays[0].ndim == 0:
        return tuple(float(a) for a in arrays)
    return arrays


def black_scholes(
    spot: ArrayLike,
    strike: ArrayLike,
    rate: ArrayLike,
    vol: ArrayLike,
    t: ArrayLike,
    is_call: ArrayLike = True,
) -> Greeks:
    """Black-Scholes-Merton price, delta, gamma, vega and theta (Hull ch. 15 and 19).

    price: c = S N(d1) - K e^(-rT) N(d2), p = K e^(-rT) N(-d2) - S N(-d1) (eq. 15.20-15.21),
    d1 = (ln(S/K) + (r + sigma^2/2) T) / (sigma sqrt T), d2 = d1 - sigma sqrt T;
    delta N(d1) / N(d1) - 1; gamma N'(d1) / (S sigma sqrt T); vega S sqrt T N'(d1);
    theta -S N'(d1) sigma / (2 sqrt T) -/+ r K e^(-rT) N(+/-d2) (per year, Hull 19.5).
    At t == 0: intrinsic value, delta 1 (call) / -1 (put) strictly in the money else 0,
    gamma, vega and theta 0.
    """
    s = _array("spot", spot, lower=0.0, strict=True)
    k = _array("strike", strike, lower=0.0, strict=True)
    r = _array("rate", rate, lower=None, strict=False)
    sigma = _array("vol", vol, lower=0.0, strict=True)
    t = _array("t", t, lower=0.0, strict=False)
    s, k, r, sigma, t, call = np.broadcast_arrays(s, k, r, sigma, t, _is_call(is_call))

    sign = np.where(call, 1.0, -1.0)
    live = t > 0.0
    tt = np.where(live, t, 1.0)  # any positive time: expired entries are overwritten below
    sqrt_t = np.sqrt(tt)
    sig_sqrt_t = sigma * sqrt_t
    d1 = (np.log(s / k) + (r + 0.5 * sigma * sigma) * tt) / sig_sqrt_t
    d2 = d1 - sig_sqrt_t
    disc_k = k * np.exp(-r * tt)
    pdf = _INV_SQRT_2PI * np.exp(-0.5 * d1 * d1)
    nd1 = ndtr(sign * d1)  # N(d1) for calls, N(-d1) for puts
    nd2 = ndtr(sign * d2)

    moneyness = sign * (s - k)
    price = np.where(live, sign * (s * nd1 - disc_k * nd2), np.maximum(moneyness, 0.0))
    delta = np.where(live, sign * nd1, np.where(moneyness > 0.0, sign, 0.0))
    gamma = np.where(live, pdf / (s * sig_sqrt_t), 0.0)
    vega = np.where(live, s * sqrt_t * pdf, 0.0)
    theta = np.where(live, -s * pdf * sigma / (2.0 * sqrt_t) - sign * r * disc_k * nd2, 0.0)
    return Greeks(*_out(price, delta, gamma, vega, theta))


def strike_for_delta(
    spot: ArrayLike,
    rate: ArrayLike,
    vol: ArrayLike,
    t: ArrayLike,
    target_delta: ArrayLike,
    is_call: ArrayLike = True,
) -> float | NDArray[np.float64]:
    """Strike whose Black-Scholes delta is `target_delta` (closed-form inversion of N(d1)).

    Call: N(d1) = delta -> K = S exp(-N^-1(delta) sigma sqrt T + (r + sigma^2/2) T).
    Put: N(d1) - 1 = -|delta| -> K = S exp(+N^-1(|delta|) sigma sqrt T + (r + sigma^2/2) T);
    a put delta may be given with either sign. Call deltas must lie in (0, 1).
    """
    s = _array("spot", spot, lower=0.0, strict=True)
    r = _array("rate", rate, lower=None, strict=False)
    sigma = _array("vol", vol, lower=0.0, strict=True)
    t = _array("t", t, lower=0.0, strict=True)
    delta = _array("target_delta", target_delta, lower=None, strict=False)
    s, r, sigma, t, delta, call = np.broadcast_arrays(s, r, sigma, t, delta, _is_call(is_call))
    magnitude = np.where(call, delta, np.abs(delta))
    bad = (magnitude <= 0.0) | (magnitude >= 1.0)
    if bad.any():
        raise InvalidAmount(
            f"target_delta: must lie in (0, 1) for calls, (-1, 0) or (0, 1) for puts, "
            f"got {delta[bad].flat[0]!r}"
        )
    sign = np.where(call, 1.0, -1.0)
    sig_sqrt_t = sigma * np.sqrt(t)
    strike = s * np.exp(-sign * ndtri(magnitude) * sig_sqrt_t + (r + 0.5 * sigma * sigma) * t)
    return _out(strike)[0]


def implied_vol(
    price: float,
    spot: float,
    strike: float,
    rate: float,
    t: float,
    is_call: bool = True,
) -> float:
    """The vol at which `black_scholes` returns `price` (scalar; Brent's method).

    `price` must lie strictly between the no-arbitrage bounds (Hull 11.4-11.5):
    max(S - K e^(-rT), 0) < c < S and max(K e^(-rT) - S, 0) < p < K e^(-rT).
    """
    price, spot, strike, rate, t = (
        float(_array(n, v, lower=lo, strict=True))
        for n, v, lo in (
            ("price", price, 0.0),
            ("spot", spot, 0.0),
            ("strike", strike, 0.0),
            ("rate", rate, None),
            ("t", t, 0.0),
        )
    )
    if not isinstance(is_call, bool | np.bool_):
        raise InvalidAmount(f"is_call: must be a bool, got {is_call!r}")
    disc_k = strike * math.exp(-rate * t)
    lower = max(spot - disc_k, 0.0) if is_call else max(disc_k - spot, 0.0)
    upper = spot if is_call else disc_k
    if not lower < price < upper:
        raise InvalidAmount(
            f"price: must lie strictly between the no-arbitrage bounds {lower!r} and {upper!r}, "
            f"got {price!r}"
        )

    def excess(sigma: float) -> float:
        return black_scholes(spot, strike, rate, sigma, t, is_call).price - price

    lo, hi = 1e-6, 4.0
    while excess(hi) < 0.0:
        if hi > 1e4:
            raise InvalidAmount(f"price: {price!r} implies a vol above {hi:g}")
        hi *= 4.0
    if excess(lo) > 0.0:
        raise InvalidAmount(f"price: {price!r} implies a vol below {lo:g}")
    return brentq(excess, lo, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps)
