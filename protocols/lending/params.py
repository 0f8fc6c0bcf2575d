"""Risk parameters of one reserve, validated like Aave v3's PoolConfigurator does.

The real values come from aave_v3_ethereum_risk_params_2023-10-31.csv in the data folder
(`sim.historical.default_data_dir`; fractions, see that folder's README, section 2):
`load_aave_params(path, symbols)`.
"""

import csv
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from protocols.errors import ConfigError
from protocols.lending.rates import KinkedRate, RateModel
from protocols.validation import check_amount, check_fraction


@dataclass(frozen=True, kw_only=True)
class ReserveParams:
    """One reserve's configuration. Fractions, not basis points; `liquidation_bonus` is the
    bonus only (0.05 for Aave's 10500); caps in whole tokens, inf = no cap (Aave's 0)."""

    ltv: float
    liquidation_threshold: float
    liquidation_bonus: float
    reserve_factor: float
    rate_model: RateModel
    liquidation_protocol_fee: float = 0.0
    supply_cap: float = math.inf
    borrow_cap: float = math.inf
    borrowable: bool = True
    usable_as_collateral: bool = True

    def __post_init__(self) -> None:
        """PoolConfigurator.configureReserveAsCollateral / setReserveFactor /
        setLiquidationProtocolFee checks: LTV <= LT, LT * (1 + bonus) <= 1, bonus > 0
        exactly when LT > 0, fractions within [0, 1]."""
        ltv = check_fraction("ltv", self.ltv)
        lt = check_fraction("liquidation_threshold", self.liquidation_threshold)
        bonus = check_amount("liquidation_bonus", self.liquidation_bonus)
        check_fraction("reserve_factor", self.reserve_factor)
        check_fraction("liquidation_protocol_fee", self.liquidation_protocol_fee)
        for cap in ("supply_cap", "borrow_cap"):
            if getattr(self, cap) != math.inf:
                check_amount(cap, getattr(self, cap))
        if ltv > lt:
            raise ConfigError(f"ltv: must be <= liquidation_threshold ({lt}), got {ltv}")
        if lt * (1.0 + bonus) > 1.0:
            raise ConfigError(
                f"liquidation_bonus: liquidation_threshold * (1 + bonus) = {lt * (1 + bonus)} "
                "must be <= 1"
            )
        if (lt > 0) != (bonus > 0):
            raise ConfigError(
                f"liquidation_bonus: must be > 0 exactly when liquidation_threshold > 0, got "
                f"bonus {bonus} with liquidation_threshold {lt}"
            )
        if self.usable_as_collateral and lt == 0:
            raise ConfigError("usable_as_collateral: needs liquidation_threshold > 0")
        if not callable(getattr(self.rate_model, "borrow_rate", None)):
            raise ConfigError(f"rate_model: needs a borrow_rate(U) method, got {self.rate_model!r}")

    @classmethod
    def from_aave_csv_row(cls, row: Mapping[str, str]) -> "ReserveParams":
        """Build from one row of the Aave v3 risk-parameter CSV (cap 0 means no cap)."""
        try:
            return cls(
                ltv=float(row["ltv"]),
                liquidation_threshold=float(row["liquidationThreshold"]),
                liquidation_bonus=float(row["liquidationBonus"]),
                liquidation_protocol_fee=float(row["liquidationProtocolFee"]),
                reserve_factor=float(row["reserveFactor"]),
                supply_cap=float(row["supplyCap"]) or math.inf,
                borrow_cap=float(row["borrowCap"]) or math.inf,
                borrowable=row["borrowingEnabled"] == "True",
                usable_as_collateral=row["usageAsCollateralEnabled"] == "True",
                rate_model=KinkedRate(
                    base=float(row["baseVariableBorrowRate"]),
                    slope1=float(row["variableRateSlope1"]),
                    slope2=float(row["variableRateSlope2"]),
                    optimal=float(row["optimalUsageRatio"]),
                ),
            )
        except KeyError as missing:
            raise ConfigError(f"row: missing column {missing}") from None
        except ValueError as bad:  # float() of a malformed cell, or a failed check
            raise ConfigError(f"row {row.get('symbol', '?')}: {bad}") from None


def load_aave_params(path: str | Path, symbols: Iterable[str]) -> dict[str, ReserveParams]:
    """ReserveParams for `symbols` (e.g. ["WETH", "USDC"]) from the Aave v3 CSV, in order."""
    symbols = list(symbols)
    with open(path, newline="") as f:
        rows = {row["symbol"]: row for row in csv.DictReader(f)}
    missing = [s for s in symbols if s not in rows]
    if missing:
        raise ConfigError(f"symbols: not in {path}: {missing}")
    return {s: ReserveParams.from_aave_csv_row(rows[s]) for s in symbols}
