"""PositionBook: rows keep their values as the storage grows; reads cannot write."""

import numpy as np
import pytest

from protocols.lending.book import PositionBook, sum_by


def test_rows_survive_growth_and_reads_are_read_only():
    book = PositionBook(n_assets=2, capacity=2)
    assert book.open("alice") == 0
    book.add_collateral(0, 0, 10.0)
    book.add_debt(0, 1, 5.0)
    ids = book.append(
        np.array(["bob", "carol"], dtype=object), np.array([[1.0, 2.0], [3.0, 4.0]]), np.zeros((2, 2))
    )
    assert ids.tolist() == [1, 2] and book.count == 3  # past the initial capacity of 2
    book.set_collateral(1, 1, 0.5)
    book.set_debt(0, 1, 0.0)
    assert book.snapshot() == {
        "collateral_scaled": [[10.0, 0.0], [1.0, 0.5], [3.0, 4.0]],
        "debt_scaled": [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]],
        "owner": ["alice", "bob", "carol"],
    }
    with pytest.raises(ValueError, match="read-only"):
        book.collateral_scaled[0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        book.owner[0] = "mallory"


def test_sum_by_adds_rows_per_group():
    amounts = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    assert sum_by(np.array([0, 1, 0]), amounts, 2).tolist() == [[6.0, 8.0], [3.0, 4.0]]


def test_every_write_bumps_the_version_and_reads_do_not():
    book = PositionBook(n_assets=2)
    writes = [
        lambda: book.open("alice"),
        lambda: book.append(np.array(["bob"], dtype=object), np.ones((1, 2)), np.zeros((1, 2))),
        lambda: book.add_collateral(0, 0, 1.0),
        lambda: book.set_collateral(0, 0, 2.0),
        lambda: book.add_debt(0, 1, 1.0),
        lambda: book.set_debt(0, 1, 0.5),
    ]
    versions = [book.version]
    for write in writes:
        write()
        versions.append(book.version)
    assert versions == [0, 1, 2, 3, 4, 5, 6]
    book.snapshot(), book.collateral_scaled.sum(), book.debt_scaled.sum(), book.count
    assert book.version == 6
