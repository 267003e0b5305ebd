"""Helpers the template tests import; fixtures live in conftest.py."""
