"""Small composed worlds for the graph, distress and contagion tests.

Market A lends USDC against ETH; market B accepts A's receipt token `market-a:aUSDC` as
collateral and lends DAI; market C (in `chain`) accepts B's DAI receipt `market-b:aDAI` and
lends USDT. ETH crashes 70 % while A's ETH feed is frozen, so A's borrowers are written off
when it unfreezes and A socializes the bad debt on its USDC suppliers - among them, through
the receipt token, B's collateral. B's and C's feeds of the receipt tokens update only on a
20 % / 4 % move (Chainlink deviation thresholds), so the haircut reaches them in one jump
and leaves bad debt. Replacing a receipt token by the plain asset removes the edge.
"""

from __future__ import annotations

import copy

import pytest

from sim.model import TreasuryModel
from sim.runner import release
from sim.scenario import parse_scenario

ETH = {"ltv": 0.805, "liquidation_threshold": 0.83, "liquidation_bonus": 0.05,
       "borrowable": False}
USDC = {"ltv": 0.77, "liquidation_threshold": 0.8, "liquidation_bonus": 0.045,
        "initial_supply": 10e6}
RECEIPT_B = {"ltv": 0.85, "liquidation_threshold": 0.9, "liquidation_bonus": 0.05,
             "borrowable": False, "oracle": {"deviation": 0.2, "heartbeat": 720}}
RECEIPT_C = {"ltv": 0.93, "liquidation_threshold": 0.95, "liquidation_bonus": 0.05,
             "borrowable": False, "oracle": {"deviation": 0.04, "heartbeat": 720}}


def cohort(market: str, collateral: str, debt: str, n: int, size: float, hf: float,
           hf_sigma: float) -> dict:
    return {"market": market, "collateral": collateral, "debt": debt, "positions": n,
            "size_usd_median": size, "size_usd_sigma": 0.3, "hf_median": hf,
            "hf_sigma": hf_sigma, "reaction_delay": 100}


def pair(b_collateral: str = "market-a:aUSDC") -> dict:
    """Markets A and B; B's collateral is A's receipt token (or, to cut the edge, USDC)."""
    return {
        "name": "composed", "seed": 1, "steps": 60,
        "gas": {"base_gwei": 1.0, "vol": 0.0, "vol_sensitivity": 0.0},
        "assets": [
            {"symbol": "ETH", "price": 2000.0, "sigma": 0.0},
            {"symbol": "USDC", "price": 1.0, "kind": "pegged", "peg_noise": 0.0},
            {"symbol": "DAI", "price": 1.0, "kind": "pegged", "peg_noise": 0.0},
        ],
        "protocols": [
            {"kind": "uniswap_v2", "name": "eth-usdc", "tokens": ["ETH", "USDC"],
             "tvl_usd": 40e6},
            {"kind": "curve", "name": "usdc-dai", "tokens": ["USDC", "DAI"], "tvl_usd": 40e6},
            {"kind": "aave", "name": "market-a", "reserves": {"ETH": ETH, "USDC": USDC}},
            {"kind": "aave", "name": "market-b", "reserves": {
                b_collateral: RECEIPT_B,
                "DAI": {"ltv": 0.0, "liquidation_threshold": 0.0, "initial_supply": 20e6},
            }},
        ],
        "agents": {
            "arbitrageurs": {"count": 1, "capital_usd": 20e6},
            "liquidators": {"count": 1, "capital_usd": 20e6},
            "liquidity_providers": {"count": 1, "flight_share": 0.0},
            "borrowers": [
                cohort("market-a", "ETH", "USDC", 200, 50_000, 1.3, 0.1),
                cohort("market-b", b_collateral, "DAI", 100, 50_000, 1.06, 0.01),
            ],
        },
        "shocks": [
            {"kind": "oracle_freeze", "step": 5, "asset": "ETH", "market": "market-a",
             "duration": 20},
            {"kind": "crash", "step": 10, "asset": "ETH", "size": 0.7},
        ],
        # The crash itself moves the ETH pool off its reference for a step: keep the pools
        # out of the count so the test sees only the lending chain.
        "distress": {"pool_price_deviation": 0.9},
    }


def chain(c_collateral: str = "market-b:aDAI") -> dict:
    """A -> B -> C: C's collateral is B's DAI receipt (or, to cut the edge, DAI)."""
    raw = pair()
    raw["protocols"][3]["reserves"]["DAI"]["initial_supply"] = 5e6
    raw["assets"].append({"symbol": "USDT", "price": 1.0, "kind": "pegged", "peg_noise": 0.0})
    raw["protocols"].append({"kind": "aave", "name": "market-c", "reserves": {
        c_collateral: RECEIPT_C,
        "USDT": {"ltv": 0.0, "liquidation_threshold": 0.0, "initial_supply": 10e6},
    }})
    raw["agents"]["borrowers"].append(cohort("market-c", c_collateral, "USDT", 50, 40_000,
                                             1.03, 0.005))
    return raw


#: Models built here, forgotten in Mesa 3.3's class-level id counter after each test module
#: (sim.runner.release), as run_scenario does: tests/sim/test_runner.py checks it is empty.
_built: list[TreasuryModel] = []


@pytest.fixture(autouse=True, scope="module")
def release_models():
    yield
    while _built:
        release(_built.pop())


def run(raw: dict, steps: int | None = None) -> TreasuryModel:
    model = TreasuryModel(parse_scenario(copy.deepcopy(raw)))
    _built.append(model)
    for _ in range(steps if steps is not None else model.config.steps):
        model.step()
    return model


def distress_steps(model: TreasuryModel) -> dict[str, int]:
    """Node -> step its first distress began (the event's `since`; it is logged once the
    cause has held `distress.min_steps`)."""
    first: dict[str, int] = {}
    for event in model.events:
        if event["kind"] == "distress":
            first.setdefault(event["node"], event["since"])
    return first
