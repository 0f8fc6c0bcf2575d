"""The value types every section of a scenario shares, and the strict base model: an unknown
field is an error (a typo must not fall back to a silent default) and a parsed scenario is
frozen (a run cannot change what it was asked to run)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Positive = Annotated[float, Field(gt=0.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
#: A cap where infinity is the documented "no cap" (Aave's 0); NaN still fails `gt`.
Cap = Annotated[float, Field(gt=0.0, allow_inf_nan=True)]
#: The range the simulator is built for (README, "Errors and exit codes"). A float64 keeps
#: about 16 digits, so a book of 1e300 tokens loses every trade smaller than 1e284: beyond
#: these bounds results would be silently wrong, so they are refused.
MAX_USD = 1e13  # ten trillion dollars: far above all of DeFi
MAX_UNITS = 1e15  # whole tokens (SHIB's supply is 5.9e14)
MIN_PRICE, MAX_PRICE = 1e-9, 1e9  # USD per token
Usd = Annotated[float, Field(ge=0.0, le=MAX_USD)]
PositiveUsd = Annotated[float, Field(gt=0.0, le=MAX_USD)]
Units = Annotated[float, Field(ge=0.0, le=MAX_UNITS)]
Price = Annotated[float, Field(ge=MIN_PRICE, le=MAX_PRICE)]
Symbol = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9._-]{0,31}$")]
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
#: An asset symbol or a protocol-issued token (`aave-a:aUSDC`, `univ2-ETH-USDC:LP`): see
#: protocols.names.
Token = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}(:[A-Za-z0-9._:-]{1,96})?$")
]


class Strict(BaseModel):
    """Every number is strict: NaN and inf are refused (a "depth" of inf would silently mean
    something else than the documented default), and so are booleans and strings (TOML's
    `true` or `"1e6"` is no number); an int is accepted where a float is expected."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

