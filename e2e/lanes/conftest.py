"""Fixtures of the lanes suite: one fleet of real processes for the session (see fleet.py), put
back into its standard shape before each test, and the accounts the tests call with. Every
process registers its log with `support.LIVE_LOGS`, so a failing test's report shows what each
logged during it (e2e/conftest.py)."""

from __future__ import annotations

from typing import Iterator

import pytest

from fleet import Fleet, ProductApi, User


@pytest.fixture(scope="session")
def fleet_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    fleet = Fleet(tmp_path_factory.mktemp("lanes"))
    missing = None
    try:
        fleet.start()
    except RuntimeError as error:  # a missing binary, psql or database server: say so, don't skip
        missing = str(error)
    except BaseException:
        fleet.stop()
        raise
    if missing:
        fleet.stop()
        pytest.fail(missing, pytrace=False)
    try:
        yield fleet
    finally:
        fleet.stop()


@pytest.fixture(scope="session")
def api(fleet_session: Fleet) -> ProductApi:
    return ProductApi(lambda: fleet_session.url, fleet_session.admin_key)


@pytest.fixture(scope="session")
def admin(api: ProductApi) -> User:
    """The first account registered, which is therefore an administrator."""
    user = api.create_user("lanes-admin", credit=None)
    profile = api._ok(api._call("GET", "/api/v1/user/profile", user.token))
    assert profile["role"] == "admin", f"the first account should be an administrator: {profile}"
    return user


@pytest.fixture(scope="session")
def user(api: ProductApi, admin: User) -> User:
    """A plain user (registered after the admin) with a balance."""
    return api.create_user("lanes-user")


@pytest.fixture
def fleet(fleet_session: Fleet) -> Fleet:
    """The session's fleet in its standard shape: base-0 alone in the baseline, the gray relay and
    chat up, the default Lane (header `x-canary` or cookie `canary=1`, fallback Baseline) live,
    empty mock records."""
    fleet_session.restore()
    return fleet_session
