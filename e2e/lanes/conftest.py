"""Fixtures of the lanes suite: one fleet of real processes for the session (see fleet.py), put
back into its standard shape before each test, and the accounts the tests call with. When a test
fails, what each process logged during it is attached to the report."""

from __future__ import annotations

from typing import Iterator

import pytest

from fleet import ALL_PROCESSES, Fleet, ProductApi, User


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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: object) -> Iterator[None]:
    item.stash[_LOG_OFFSETS] = {id(p): p.log_size() for p in ALL_PROCESSES}
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    offsets = item.stash.get(_LOG_OFFSETS, {})
    for process in ALL_PROCESSES:
        text = process.log_since(offsets.get(id(process), 0))
        if text.strip():
            report.sections.append((f"{process.name} log ({process.log_path})", _tail(text)))


def _tail(text: str, limit: int = 12_000) -> str:
    return text if len(text) <= limit else "…\n" + text[-limit:]


_LOG_OFFSETS = pytest.StashKey[dict]()
