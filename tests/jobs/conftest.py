"""The API app fixtures (real app, shared test database) for the jobs tests."""

from tests.api.conftest import app, client, make_key, settings  # noqa: F401
