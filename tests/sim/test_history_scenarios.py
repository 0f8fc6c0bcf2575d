"""The historical scenario library (experiments/scenarios/*_20xx.toml) against the real files
of the shared data directory: each episode, on a short window, reproduces its qualitative
outcome, asserted with numbers read from the data files (see ../shared/data/README.md).

Tests that need the data SKIP when the directory is absent (a clone elsewhere may lack it);
the missing-file tests build their own empty directory and always run.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.borrowers import BorrowerCohort
from cli.main import main as daosim
from sim.historical import MissingDataError, default_data_dir, load_price_series
from sim.model import TreasuryModel
from sim.paths import generate_paths
from sim.runner import release
from sim.scenario import load_scenario, parse_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "experiments" / "scenarios"
HISTORICAL = (
    "black_thursday_2020",
    "usdc_depeg_2023",
    "steth_discount_2022",
    "terra_ust_2022",
    "ftx_week_2022",
)
DATA = default_data_dir()
needs_data = pytest.mark.skipif(
    not DATA.is_dir(), reason=f"no historical data directory at {DATA} (set DAOSIM_DATA_DIR)"
)
ETH_2022 = "eth_usdt_binance_1h_2022-05-01_2022-07-11.csv"
UST = "ust_usd_yahoo_daily_2020-11-25_2022-10-09.csv"


@dataclass
class Outcome:
    model: TreasuryModel
    ts: pd.DataFrame
    events: list[dict[str, Any]]
    tracked: list[Any]  # track(model) at step 0 and after every step

    def liquidations(self, **match: str) -> list[dict[str, Any]]:
        return [
            e for e in self.events
            if e["kind"] == "liquidation" and all(e.get(k) == v for k, v in match.items())
        ]

    def column(self, name: str) -> np.ndarray:
        return self.ts[name].to_numpy()


def replay(name: str, steps: int, track: Callable[[TreasuryModel], Any] | None = None) -> Outcome:
    """Run a shipped historical scenario for its first `steps` steps (default data dir);
    every token is conserved at the end."""
    scenario = load_scenario(SCENARIOS / f"{name}.toml", {"steps": steps})
    model = TreasuryModel(scenario)
    try:
        tracked = [track(model)] if track else []
        while model.running and model.steps < scenario.steps:
            model.step()
            if track:
                tracked.append(track(model))
        model.world.ledger.check_conservation()
        return Outcome(model, model.timeseries(), model.events, tracked)
    finally:
        release(model)


def share(model: TreasuryModel, pool: str, coin: str) -> float:
    reserves = model.world.pools[pool].reserves()
    return reserves[coin] / sum(reserves.values())


# -- the library itself --------------------------------------------------------------------
@pytest.mark.parametrize("name", HISTORICAL)
def test_each_scenario_validates_and_documents_its_data_files(name):
    path = SCENARIOS / f"{name}.toml"
    scenario = load_scenario(path)
    assert scenario.market.process == "historical" and scenario.market.start is not None
    comments = "\n".join(line for line in path.read_text().splitlines() if line.startswith("#"))
    files = [a.data for a in scenario.assets if a.data]
    assert files, "a historical scenario replays at least one data file"
    for file in files:
        assert file in comments, f"{name}: the header comment must name {file}"
    assert "aave_v3_ethereum_risk_params_2023-10-31.csv" in comments  # parameters' source
    if DATA.is_dir():
        assert all((DATA / file).is_file() for file in files)


#: Scenario asset -> its row in the Aave v3 risk-parameter file (UST has no Aave row: the
#: Terra scenario says it takes FRAX's).
AAVE_ROW = {"ETH": "WETH", "stETH": "wstETH", "UST": "FRAX"}
#: Curve pool name in the scenarios -> its row in curve_stableswap_pool_params.csv.
CURVE_ROW = {"curve-3pool": "3pool", "curve-steth": "steth", "curve-ust": "ust"}


#: GOV, the baseline's governance token, has no real counterpart (its file says so).
INVENTED = {"GOV"}


@needs_data
@pytest.mark.parametrize("name", [*HISTORICAL, "baseline"])
def test_protocol_parameters_are_the_real_files_rows(name):
    aave = pd.read_csv(DATA / "aave_v3_ethereum_risk_params_2023-10-31.csv").set_index("symbol")
    curve = pd.read_csv(DATA / "curve_stableswap_pool_params.csv")
    curve = curve[curve.record_kind == "onchain_state_snapshot"].set_index("pool")
    scenario = load_scenario(SCENARIOS / f"{name}.toml")
    checked = 0
    for protocol in scenario.protocols:
        if protocol.kind == "aave":
            for symbol, reserve in protocol.reserves.items():
                if symbol in INVENTED:
                    continue
                row = aave.loc[AAVE_ROW.get(symbol, symbol)]
                assert (
                    reserve.ltv, reserve.liquidation_threshold, reserve.liquidation_bonus,
                    reserve.liquidation_protocol_fee, reserve.reserve_factor,
                ) == (
                    row.ltv, row.liquidationThreshold, row.liquidationBonus,
                    row.liquidationProtocolFee, row.reserveFactor,
                ), f"{name}: {protocol.name}.{symbol}"
                rate = reserve.rate
                assert (rate.base, rate.slope1, rate.slope2, rate.optimal) == (
                    row.baseVariableBorrowRate, row.variableRateSlope1, row.variableRateSlope2,
                    row.optimalUsageRatio,
                ), f"{name}: {protocol.name}.{symbol}.rate"
                checked += 1
        elif protocol.kind == "curve":
            row = curve.loc[CURVE_ROW[protocol.name]]
            assert protocol.fee == row.fee_fraction
            assert protocol.amp in (row.initial_A, row.future_A)  # before or after a ramp
            checked += 1
    assert checked >= 3


# -- Black Thursday --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def black_thursday():
    return replay("black_thursday_2020", 96)  # 11 Mar 00:00 to 15 Mar 00:00 UTC


@needs_data
def test_black_thursday_replays_the_binance_crash(black_thursday):
    eth = black_thursday.column("fundamental:ETH")
    # row t = the close at start + t hours: 11 Mar 00:00 -> 200.70; 12 Mar 00:00 -> 194.61
    # (the 11 Mar 23:00 candle); the lowest close 96.62 (13 Mar 01:00 candle) at 02:00, row 50.
    assert eth[0] == 200.70 and eth[24] == 194.61
    assert eth.min() == 96.62 and eth.argmin() == 50


@needs_data
def test_black_thursday_liquidations_are_concentrated_in_the_crash(black_thursday):
    steps = np.array([e["step"] for e in black_thursday.liquidations()])
    assert steps.size >= 100
    # The crash days (12-13 Mar, steps 24-71) are half the window and hold >= 85 % of the
    # liquidations; the quiet day before (11 Mar) has almost none.
    crash = (steps >= 24) & (steps < 72)
    assert crash.mean() >= 0.85
    assert (steps < 24).sum() <= 0.02 * steps.size
    per_step = black_thursday.column("liquidations")
    assert per_step.sum() == steps.size


@needs_data
def test_black_thursday_gas_peak_is_4_to_10_times_the_pre_crash_median(black_thursday):
    # History (the scenario header's sources): ~10 gwei on 11 Mar, daily means 78-85 gwei on
    # 12-13 Mar (6-8x), hourly averages over 100 gwei at the peak (~10x). The run: 11 Mar is
    # base 10 gwei times noise of sd 0.15 (its median within 10 e^(+-0.3)); from step 34 the
    # spike x4, times e^(2 * 0.234) = 1.6 in the -23 % hour ending 12 Mar 11:00 (row 35),
    # so the peak is ~6.4x the base times noise e^(0.15 z): 4-10x for |z| < 2; the liquidation
    # load adds e^(0.0005 * liquidations per hour): under 2 % at the run's <= 34 per hour.
    gas = black_thursday.column("gas_gwei")
    calm = np.median(gas[1:25])  # 11 Mar
    assert 10 * math.exp(-0.3) <= calm <= 10 * math.exp(0.3)
    assert 4.0 <= gas.max() / calm <= 10.0
    assert 34 <= gas.argmax() < 72  # the peak falls in the spike (12 Mar 10:00 - 14 Mar)
    assert gas.max() < 500.0  # the cap (max_gwei) is never what sets the peak
    # The congestion lasts both crash days: their mean is >= 3x (spike x4 times noise).
    assert gas[24:72].mean() >= 3.0 * calm
    assert np.median(gas[72:96]) <= 1.5 * calm  # and gas is back down by 14 Mar


# -- USDC depeg ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def usdc_depeg():
    return replay("usdc_depeg_2023", 72, lambda m: share(m, "curve-3pool", "USDC"))


@needs_data
def test_usdc_depeg_replays_the_uniswap_pool_price(usdc_depeg):
    usdc = usdc_depeg.column("price:USDC")
    # usdt_per_usdc = 1.0001 ** poolTick: the low 0.87259 at 11 Mar 08:00 = step 32.
    assert usdc.argmin() == 32 and round(usdc.min(), 5) == 0.87259
    assert usdc[0] == pytest.approx(1.0001) and usdc[-1] > 0.98  # back by 13 Mar
    # the other stables keep their peg
    for coin in ("DAI", "USDT"):
        assert np.all(np.abs(usdc_depeg.column(f"price:{coin}") - 1) < 0.01)


@needs_data
def test_usdc_depeg_fills_curve_3pool_with_usdc(usdc_depeg):
    usdc_share = np.array(usdc_depeg.tracked)
    assert usdc_share[0] == pytest.approx(1 / 3)  # seeded balanced
    # 10 Mar, before the run (USDC at 1.0000 at 12:00): the three coins stay near a third
    assert np.all(np.abs(usdc_share[:17] - 1 / 3) < 0.1) and abs(usdc_share[12] - 1 / 3) < 0.02
    # Arbitrageurs sell cheap USDC into the pool for DAI and USDT: by the low USDC is over
    # 60 % of the coins, and the other two have each fallen below 20 %.
    assert usdc_share[32] > 0.6 and usdc_share.max() > 0.7
    for coin in ("DAI", "USDT"):
        assert share(usdc_depeg.model, "curve-3pool", coin) < 0.2


# -- stETH discount --------------------------------------------------------------------------
def _steth_state(model: TreasuryModel) -> tuple[float, float]:
    """(stETH price in ETH in the Curve pool, median HF of the stETH/ETH loop positions)."""
    cohort = next(
        c for c in model.agents_by_type[BorrowerCohort] if c.spec.collateral == "stETH"
    )
    return (
        model.world.pools["curve-steth"].spot_price("stETH", "ETH"),
        float(np.median(cohort.health_factors())),
    )


@pytest.fixture(scope="module")
def steth_discount():
    return replay("steth_discount_2022", 216, _steth_state)  # 10 Jun to 19 Jun 00:00


@needs_data
def test_steth_discount_replays_the_chainlink_rounds(steth_discount):
    # stETH trades against ETH's off-chain market (it moves with ETH's impact), so the
    # traded ratio is the replayed one.
    ratio = steth_discount.column("price:stETH") / steth_discount.column("price:ETH")
    # Round of 9 Jun 17:41 (0.97327561) holds at the start; the 18 Jun 09:09:38 round
    # (0.93501933, the low) holds from 10:00, step 202, until the 19 Jun 09:09 round.
    np.testing.assert_allclose(ratio[0], 0.97327561, rtol=1e-12)
    np.testing.assert_allclose(ratio[202:], 0.93501933, rtol=1e-12)
    assert np.all(ratio[:202] > 0.93501933 * (1 + 1e-9))  # the low first holds at 202


@needs_data
def test_steth_pool_price_sits_below_one(steth_discount):
    pool = np.array([p for p, _ in steth_discount.tracked])
    ratio = steth_discount.column("price:stETH") / steth_discount.column("fundamental:ETH")
    assert pool[0] == pytest.approx(1.0)  # seeded balanced in coin units
    assert np.all(pool[1:] < 0.995)
    assert pool[202] < 0.94
    # arbitrage keeps it on the Chainlink ratio after the first hour
    np.testing.assert_allclose(pool[2:], ratio[2:], rtol=0.01)
    # sellers left the pool one-sided in stETH, as in June 2022
    assert share(steth_discount.model, "curve-steth", "stETH") > 0.7


@needs_data
def test_steth_collateral_gets_closer_to_liquidation(steth_discount):
    hf = np.array([h for _, h in steth_discount.tracked])
    # The loop's HF moves with the stETH/ETH ratio alone: 0.93501933 / 0.97327561 = 0.9607,
    # so the median falls about 4 % (1.0805 -> ~1.04); top-ups and liquidations of the
    # weakest positions keep it a little above the pure ratio.
    assert hf[202] < 0.97 * hf[0]
    assert hf[202] == pytest.approx(hf[0] * 0.93501933 / 0.97327561, rel=0.015)
    assert steth_discount.liquidations(collateral_asset="stETH")


# -- Terra / UST -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def terra():
    return replay("terra_ust_2022", 144)  # 7 May 00:00 to 13 May 00:00, the end of LUNA's file


@needs_data
def test_terra_replays_ust_daily_and_luna_hourly(terra):
    ust, luna = terra.column("price:UST"), terra.column("fundamental:LUNA")
    # UST daily closes sit at day ends: 8 May 0.996401 (9 May 00:00 = step 48), 9 May
    # 0.793393 (step 72), 12 May 0.408584 (step 144). Inside a day the price follows the
    # candle path (sim.historical.candle_path): 9 May is bearish (open 0.995427 > close),
    # so its high 0.999014 sits at 08:00 (step 56) and its low 0.793393 at 16:00 (step 64),
    # log-linear between: step 60 = sqrt(0.999014 * 0.793393). (Before the candle path,
    # step 60 interpolated the two closes: sqrt(0.996401 * 0.793393).)
    assert ust[48] == pytest.approx(0.996401, rel=1e-12)
    assert ust[72] == pytest.approx(0.793393, rel=1e-12)
    assert ust[144] == pytest.approx(0.408584, rel=1e-12)
    assert ust[56] == 0.999014 and ust[64] == 0.793393
    assert ust[60] == pytest.approx(np.sqrt(0.999014 * 0.793393), rel=1e-12)
    assert luna[0] == 77.3 and luna[144] == 0.00032


@needs_data
def test_terra_ust_peg_breaks_and_its_holders_are_hit(terra):
    model = terra.model
    ust = terra.column("price:UST")
    assert np.all(ust[:48] > 0.99) and ust.min() < 0.5
    # The lending market holding UST as collateral liquidates it all the way down.
    assert len(terra.liquidations(market="ust-lender", collateral_asset="UST")) >= 500
    # The Curve UST pool is left holding UST: > 80 % of its coins, and its value at reference
    # prices is down more than half from the $400M it started with.
    assert share(model, "curve-ust", "UST") > 0.8
    reserves = model.world.pools["curve-ust"].reserves()
    value = sum(amount * model.world.usd(coin) for coin, amount in reserves.items())
    assert value < 0.5 * 400e6


@needs_data
def test_terra_ust_lender_is_left_with_bad_debt(terra):
    # UST's liquidations cannot keep up with its collapse: inside a day's candle UST falls
    # from its high to its low over hours, faster than positions can be closed at a profit
    # once the oracle's deviation rounds land, and the market books bad debt in its debt
    # asset, USDC.
    assert terra.model.world.markets["ust-lender"].bad_debt["USDC"] > 0


# -- FTX week --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ftx_week():
    return replay("ftx_week_2022", 120)  # 6 Nov 00:00 to 11 Nov 00:00


@needs_data
def test_ftx_week_eth_drawdown_and_ftt_collapse(ftx_week):
    eth, ftt = ftx_week.column("fundamental:ETH"), ftx_week.column("fundamental:FTT")
    # ETH: 1,631.46 at 6 Nov 09:00 (step 9) to the lowest close 1,102.73 at 10 Nov 00:00
    # (step 96): a drawdown of 1 - 1102.73 / 1631.46 = 32.4 %.
    assert eth.max() == 1631.46 and eth.min() == 1102.73 and eth.argmin() == 96
    drawdown = 1 - eth / np.maximum.accumulate(eth)
    assert drawdown.max() == pytest.approx(1 - 1102.73 / 1631.46, rel=1e-12)
    # FTT daily closes: 7 Nov 22.142197 (step 48), 8 Nov 5.518904 (step 72).
    assert ftt[48] == pytest.approx(22.142197) and ftt[72] == pytest.approx(5.518904)


@needs_data
def test_ftx_week_liquidations_fall_in_the_crash_days(ftx_week):
    steps = np.array([e["step"] for e in ftx_week.liquidations(collateral_asset="ETH")])
    assert steps.size >= 150
    crash = (steps >= 48) & (steps <= 96)  # 8 Nov 00:00 to 10 Nov 00:00
    assert crash.mean() >= 0.85
    # and the liquidated debt is real money: at least $3M repaid
    repaid = sum(e["debt_repaid_usd"] for e in ftx_week.liquidations())
    assert repaid > 3e6


# -- determinism and the data directory ------------------------------------------------------
@needs_data
def test_same_scenario_and_seed_give_identical_results():
    first = replay("usdc_depeg_2023", 40)
    second = replay("usdc_depeg_2023", 40)
    pd.testing.assert_frame_equal(first.ts, second.ts)
    assert first.events == second.events


def test_a_missing_data_file_names_the_file_and_where_to_put_it(tmp_path):
    scenario = load_scenario(SCENARIOS / "terra_ust_2022.toml", {"steps": 5})
    with pytest.raises(MissingDataError) as caught:
        generate_paths(scenario, data_dir=str(tmp_path))
    message = str(caught.value)
    assert f"{tmp_path / ETH_2022}: data file not found" in message
    assert "data directory" in message and "--data-dir" in message
    assert "DAOSIM_DATA_DIR" in message


def test_daosim_run_reports_a_missing_data_file_without_a_traceback(tmp_path, capsys):
    code = daosim([
        "run", str(SCENARIOS / "usdc_depeg_2023.toml"), "--steps", "5",
        "--data-dir", str(tmp_path), "--out", str(tmp_path / "out"),
    ])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("daosim: ") and "eth_usd_yahoo_daily_2020-01-01_2025-11-20.csv" in err
    assert "Traceback" not in err and not (tmp_path / "out").exists()


@needs_data
def test_a_window_outside_the_data_names_the_asset_and_file():
    scenario = load_scenario(
        SCENARIOS / "steth_discount_2022.toml", {"market.start": "2022-07-11 00:00"}
    )
    with pytest.raises(MissingDataError, match=re.escape(f"ETH ({ETH_2022}): close: data cover")):
        generate_paths(scenario)


# -- replay shapes: a common start, depegs on a replayed peg ---------------------------------
def _eth_ust(steps: int = 48, start: str | None = None, depegs: list | None = None):
    raw = {
        "steps": steps,
        "market": {"process": "historical", **({"start": start} if start else {})},
        "assets": [
            {"symbol": "ETH", "price": 2000.0, "data": ETH_2022},
            {"symbol": "UST", "kind": "pegged", "price": 1.0, "data": UST,
             "depegs": depegs or []},
            {"symbol": "USDC", "kind": "pegged", "price": 1.0},
        ],
    }
    return parse_scenario(raw)


@needs_data
def test_without_a_start_every_data_file_starts_at_the_latest_first_observation():
    # ETH's first hourly close is 1 May 2022 01:00; UST's daily file starts in 2020. Both
    # columns start at 1 May 01:00. UST follows its 1 May candle (bullish: open 0.999779,
    # close 1.001649) from the 30 Apr close 0.999567 at 00:00 to its low 0.997579 at 08:00,
    # log-linearly: at 01:00, 0.999567^(7/8) * 0.997579^(1/8). (Before the candle path it
    # interpolated the two closes: 0.999567^(23/24) * 1.001649^(1/24).)
    paths = generate_paths(_eth_ust())
    eth = load_price_series(DATA / ETH_2022)
    assert eth.index[0] == pd.Timestamp("2022-05-01 01:00", tz="UTC")
    np.testing.assert_array_equal(paths.price("ETH"), eth.iloc[:49].to_numpy())
    expected = 0.999567 ** (7 / 8) * 0.997579 ** (1 / 8)
    assert paths.price("UST")[0] == pytest.approx(expected, rel=1e-12)
    assert paths.price("UST")[23] == pytest.approx(1.001649, rel=1e-12)  # 2 May 00:00


def _expected_gap(rows: np.ndarray, start: int, duration: int, depth: float, recovery: int):
    """The depeg's documented shape: full depth for `duration` steps, then a linear climb
    that is back at the peg `recovery` steps after the episode ends (`recovery + 1` equal
    slices)."""
    end = start + duration
    gap = np.zeros(rows.size)
    gap[(rows >= start) & (rows < end)] = depth
    climbing = (rows >= end) & (rows < end + recovery)
    gap[climbing] = depth * (end + recovery - rows[climbing]) / (recovery + 1)
    return gap


@needs_data
@settings(max_examples=25, deadline=None)
@given(
    start=st.integers(0, 48),
    duration=st.integers(1, 24),
    depth=st.floats(0.01, 0.95),
    recovery=st.integers(0, 24),
)
def test_a_depeg_deepens_a_replayed_peg_by_its_gap(start, duration, depth, recovery):
    plain = generate_paths(_eth_ust(start="2022-05-08 00:00")).price("UST")
    depeg = {"start": start, "duration": duration, "depth": depth, "recovery": recovery}
    shocked = generate_paths(_eth_ust(start="2022-05-08 00:00", depegs=[depeg])).price("UST")
    gap = _expected_gap(np.arange(49), start, duration, depth, recovery)
    np.testing.assert_allclose(shocked, plain * (1 - gap), rtol=1e-12)
    assert np.all(shocked <= plain) and np.all(shocked[gap == 0] == plain[gap == 0])


@needs_data
def test_a_depeg_after_the_last_step_is_refused():
    scenario = _eth_ust(steps=10, depegs=[{"start": 11}])
    with pytest.raises(Exception, match=r"UST: depegs\[0\]\.start_step: 11 is after"):
        generate_paths(scenario)


@needs_data
@pytest.mark.parametrize(
    ("name", "asset", "start", "end"),
    [
        ("black_thursday_2020", "ETH", "2020-03-08", "2020-03-11"),
        ("ftx_week_2022", "ETH", "2022-11-01", "2022-11-06"),
        ("ftx_week_2022", "FTT", "2022-10-07", "2022-11-06"),
        ("terra_ust_2022", "ETH", "2022-05-01", "2022-05-07"),
        ("terra_ust_2022", "LUNA", "2022-05-01", "2022-05-07"),
        ("steth_discount_2022", "ETH", "2022-06-03", "2022-06-10"),
        ("usdc_depeg_2023", "ETH", "2023-02-08", "2023-03-10"),
    ],
)
def test_shipped_offchain_depths_are_the_square_root_law_on_the_replayed_file(
    name, asset, start, end
):
    # Each header says which days its depth was calibrated on; the shipped value is the
    # square-root-law depth of those days (sim.historical.square_root_depth_usd) rounded to
    # 2-3 significant figures, so it must agree within 1 %.
    from sim.historical import square_root_depth_usd

    scenario = load_scenario(SCENARIOS / f"{name}.toml")
    spec = next(a for a in scenario.assets if a.symbol == asset)
    expected = square_root_depth_usd(DATA / spec.data, start, end)
    assert spec.external_depth_usd == pytest.approx(expected, rel=0.01)


# -- step length and oracle latency (the rounds) ------------------------------------------
def _black_thursday(scale: int = 1, rounds: int | None = None, latency: int = 0) -> dict:
    """The replay's summary at step_hours = 1 / scale with everything counted in steps
    scaled to the same hours (steps, shock step and duration, reaction delay, oracle
    heartbeat and latency)."""
    import tomllib

    from sim.runner import run_scenario
    from sim.scenario import apply_overrides

    raw = tomllib.loads((SCENARIOS / "black_thursday_2020.toml").read_text())
    raw["step_hours"], raw["steps"] = 1.0 / scale, raw["steps"] * scale
    for shock in raw["shocks"]:
        shock["step"], shock["duration"] = (shock["step"] - 1) * scale + 1, shock["duration"] * scale
    for cohort in raw["agents"]["borrowers"]:
        cohort["reaction_delay"] = cohort.get("reaction_delay", 6) * scale
    overrides = {"protocols.aave.reserves.ETH.oracle.heartbeat": 24 * scale,
                 "protocols.aave.reserves.ETH.oracle.latency": latency * scale}
    if rounds is not None:
        overrides["rounds_per_step"] = rounds
    return run_scenario(parse_scenario(apply_overrides(raw, overrides))).summary


@needs_data
def test_black_thursday_does_not_depend_on_the_step_length():
    # The same replay at hourly and at 15-minute steps (4x the steps). At the default 6
    # rounds per step the rounds are 10 and 2.5 minutes long; the same positions are hit
    # (863 of 900 at seed 3) for the same debt repaid (~$11-12M), within 20 %. The number
    # of liquidation calls is finer-grained: a position caught just below HF 1 is closed
    # in 50 % close-factor pieces, so shorter rounds make more, smaller calls - at equal
    # round length (5 minutes: 12 rounds of an hour, 3 of 15 minutes) the calls agree too.
    hourly, quarter = _black_thursday(1), _black_thursday(4)
    assert quarter["positions_liquidated"] == pytest.approx(hourly["positions_liquidated"],
                                                            rel=0.2)
    assert quarter["liquidation_volume_usd"] == pytest.approx(
        hourly["liquidation_volume_usd"], rel=0.2)
    hourly, quarter = _black_thursday(1, rounds=12), _black_thursday(4, rounds=3)
    assert quarter["liquidations"] == pytest.approx(hourly["liquidations"], rel=0.2)


@needs_data
def test_a_one_hour_oracle_delay_runs_and_leaves_a_shortfall_that_step_length_keeps():
    # Maker's OSM delay (black_thursday_2020_delayed_oracle.toml): the feed is primed with
    # the round it would have published before the run, so it reads from step 0. While it
    # lags, positions fall below water at traded prices that their stale HF cannot see:
    # a shortfall peak (~$17k at seed 3) at least the undelayed one (~0: liquidators keep
    # up round by round), within x1.5 at hourly and at 15-minute steps (the peak is taken
    # over every round, not at the steps).
    plain, delayed = _black_thursday(1), _black_thursday(1, latency=1)
    assert delayed["shortfall_peak_usd"] >= plain["shortfall_peak_usd"]
    assert delayed["shortfall_peak_usd"] > 1_000
    quarter = _black_thursday(4, latency=1)
    ratio = quarter["shortfall_peak_usd"] / delayed["shortfall_peak_usd"]
    assert 1 / 1.5 <= ratio <= 1.5


def test_the_delayed_oracle_what_if_is_the_replay_with_a_one_step_feed_delay():
    plain = load_scenario(SCENARIOS / "black_thursday_2020.toml").model_dump()
    delayed = load_scenario(SCENARIOS / "black_thursday_2020_delayed_oracle.toml").model_dump()
    aave = next(i for i, p in enumerate(delayed["protocols"]) if p["name"] == "aave")
    assert delayed["protocols"][aave]["reserves"]["ETH"]["oracle"]["latency"] == 1
    delayed["protocols"][aave]["reserves"]["ETH"]["oracle"]["latency"] = 0
    for key in ("name", "description"):
        delayed.pop(key), plain.pop(key)
    assert delayed == plain
