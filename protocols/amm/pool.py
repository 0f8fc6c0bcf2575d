"""The trading surface every pool offers, so agents trade through any of them alike."""

from __future__ import annotations

from protocols.amm.concentrated import ConcentratedLiquidityPool
from protocols.amm.constant_product import ConstantProductPool
from protocols.amm.stableswap import StableSwapPool

Pool = ConstantProductPool | StableSwapPool | ConcentratedLiquidityPool
