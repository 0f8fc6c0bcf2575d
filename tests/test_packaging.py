"""The conventions a Python user looks for: license, citation, changelog, typing marker,
one version."""

import tomllib
from pathlib import Path

import yaml

import daosim

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PACKAGES = PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]


def test_the_license_file_is_the_one_pyproject_declares():
    assert PYPROJECT["project"]["license"] == {"text": "MIT"}
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")


def test_the_citation_file_is_valid_cff_without_a_second_version():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0"
    assert {"message", "title", "authors"} <= set(cff)
    assert all("name" in a or "family-names" in a for a in cff["authors"])
    assert cff["license"] == "MIT"
    assert "version" not in cff  # written once, in daosim/__init__.py


def test_the_changelog_starts_with_this_version():
    lines = (ROOT / "CHANGELOG.md").read_text().splitlines()
    first = next(line for line in lines if line.startswith("## ["))
    assert first.startswith(f"## [{daosim.__version__}]")


def test_every_shipped_package_is_marked_typed():
    assert "daosim" in PACKAGES
    for package in PACKAGES:
        assert (ROOT / package / "py.typed").is_file(), package
