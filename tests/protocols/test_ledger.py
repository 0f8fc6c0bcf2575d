"""Ledger: balances, supplies, issuer rights, and that refused operations change nothing."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.errors import (
    InsufficientBalance,
    InvalidAmount,
    LedgerError,
    NotIssuer,
    UnknownToken,
)
from protocols.ledger import Ledger


@pytest.fixture
def ledger() -> Ledger:
    ledger = Ledger()
    ledger.create_token("USDC", issuer="circle")
    ledger.mint("USDC", "alice", 100.0, by="circle")
    return ledger


def test_mint_transfer_burn_hand_checked(ledger):
    ledger.transfer("USDC", "alice", "bob", 30.0)
    ledger.burn("USDC", "bob", 10.0, by="circle")
    assert ledger.balance_of("alice", "USDC") == 70.0
    assert ledger.balance_of("bob", "USDC") == 20.0
    assert ledger.total_supply("USDC") == 90.0
    assert ledger.holders("USDC") == {"alice": 70.0, "bob": 20.0}
    assert ledger.balances_of("bob") == {"USDC": 20.0}
    assert ledger.balance_of("nobody", "USDC") == 0.0
    ledger.check_conservation()


@pytest.mark.parametrize(
    ("operation", "error", "message"),
    [
        (lambda l: l.transfer("USDC", "alice", "bob", 100.5), InsufficientBalance, "alice"),
        (lambda l: l.transfer("USDC", "alice", "bob", -1.0), InvalidAmount, "amount"),
        (lambda l: l.transfer("USDC", "alice", "bob", math.nan), InvalidAmount, "finite"),
        (lambda l: l.transfer("USDC", "alice", "bob", math.inf), InvalidAmount, "finite"),
        (lambda l: l.transfer("USDC", "alice", "bob", "5"), InvalidAmount, "number"),
        (lambda l: l.transfer("USDC", "alice", "bob", True), InvalidAmount, "number"),
        (lambda l: l.transfer("DAI", "alice", "bob", 1.0), UnknownToken, "DAI"),
        (lambda l: l.mint("USDC", "alice", 1.0, by="alice"), NotIssuer, "circle"),
        (lambda l: l.burn("USDC", "alice", 1.0, by="mallory"), NotIssuer, "circle"),
        (lambda l: l.burn("USDC", "alice", 101.0, by="circle"), InsufficientBalance, "burn"),
        (lambda l: l.create_token("USDC", issuer="x"), LedgerError, "already exists"),
        (lambda l: l.create_token("", issuer="x"), LedgerError, "token"),
    ],
)
def test_refused_operations_raise_clearly_and_change_nothing(ledger, operation, error, message):
    before = ledger.snapshot()
    with pytest.raises(error, match=message):
        operation(ledger)
    assert ledger.snapshot() == before


def test_snapshot_is_a_plain_copy_that_compares_with_eq(ledger):
    before = ledger.snapshot()
    assert before == {
        "balances": {"USDC": {"alice": 100.0}},
        "supply": {"USDC": 100.0},
        "issuer": {"USDC": "circle"},
    }
    ledger.transfer("USDC", "alice", "bob", 30.0)
    assert before["balances"] == {"USDC": {"alice": 100.0}}
    assert ledger.snapshot()["balances"] == {"USDC": {"alice": 70.0, "bob": 30.0}}


def test_conservation_check_catches_a_corrupted_book(ledger):
    # No public operation can break conservation (that is the ledger's promise), so the
    # test corrupts the private book on purpose.
    ledger._balances["USDC"]["alice"] += 1.0
    with pytest.raises(LedgerError, match="conservation broken for USDC"):
        ledger.check_conservation()


def test_exact_balance_can_be_sent_and_burnt_to_zero(ledger):
    ledger.transfer("USDC", "alice", "bob", 100.0)
    ledger.burn("USDC", "bob", 100.0, by="circle")
    assert ledger.total_supply("USDC") == 0.0
    assert ledger.holders("USDC") == {}


HOLDERS = ["alice", "bob", "carol", "pool"]
operations = st.lists(
    st.tuples(
        st.sampled_from(["mint", "burn", "transfer"]),
        st.sampled_from(["USDC", "ETH"]),
        st.sampled_from(HOLDERS),
        st.sampled_from(HOLDERS),
        st.one_of(
            st.floats(min_value=0, max_value=1e9, allow_nan=False),
            st.floats(min_value=-1e3, max_value=-1e-9),
        ),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(operations)
def test_random_operation_sequences_conserve_and_never_go_negative(ops):
    ledger = Ledger()
    ledger.create_token("USDC", issuer="circle")
    ledger.create_token("ETH", issuer="chain")
    issuers = {"USDC": "circle", "ETH": "chain"}
    for kind, token, a, b, amount in ops:
        before = ledger.snapshot()
        try:
            if kind == "mint":
                ledger.mint(token, a, amount, by=issuers[token])
            elif kind == "burn":
                ledger.burn(token, a, amount, by=issuers[token])
            else:
                ledger.transfer(token, a, b, amount)
        except (LedgerError, InvalidAmount):
            assert ledger.snapshot() == before
        ledger.check_conservation()
        for token in ("USDC", "ETH"):
            assert all(balance >= 0 for balance in ledger.holders(token).values())
