"""Helpers the tests import; fixtures live in the conftest.py files."""
