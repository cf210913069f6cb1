"""Fixtures: real PostGIS databases (throwaway, created per run), the Flask app, a live server.

The server is the embedded cluster (started if needed) or the one GRIDGIS_DATABASE_URL points
at; the tests create their own databases on it and drop them at the end.
"""
from __future__ import annotations

import os
import threading
import uuid

import pytest

from gis.config import uses_embedded_database
from gis.store import db, scratch
from tests.helpers import client_for, free_port, make_account

RUN = uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def admin_engine():
    eng = scratch.admin_engine()
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def template_db(admin_engine):
    """A migrated, empty database used as the template of every test database."""
    name = f"gridgis_test_{RUN}_tpl"
    scratch.create_database(admin_engine, name)
    yield name
    scratch.drop_database(admin_engine, name)


def _create_from_template(admin_engine, template_db, suffix) -> tuple[str, str]:
    name = f"gridgis_test_{RUN}_{suffix}"
    return name, scratch.create_database(admin_engine, name, template=template_db)


@pytest.fixture
def fresh_db(admin_engine, template_db):
    """URL of a new empty, migrated database, dropped after the test."""
    name, url = _create_from_template(admin_engine, template_db, uuid.uuid4().hex[:6])
    yield url
    scratch.drop_database(admin_engine, name)


@pytest.fixture(scope="module")
def module_db(admin_engine, template_db):
    """URL of an empty, migrated database of one test module's own (for modules that load
    boundary sets of their own)."""
    name, url = _create_from_template(admin_engine, template_db, uuid.uuid4().hex[:8])
    yield url
    scratch.drop_database(admin_engine, name)


@pytest.fixture(scope="session")
def factory_gpkg(tmp_path_factory):
    from tests.helpers import factory
    return factory.write(factory.layers(), tmp_path_factory.mktemp("factory") / "set.gpkg")


def _factory_database(admin_engine, template_db, factory_gpkg, suffix) -> tuple[str, str]:
    """(name, url) of a new database holding the factory boundary set."""
    from gis.boundaries.importing import import_boundaries
    name, url = _create_from_template(admin_engine, template_db, suffix)
    engine = db.engine(url)
    import_boundaries(engine, factory_gpkg, commit=True, name="factory")
    engine.dispose()
    return name, url


@pytest.fixture(scope="session")
def factory_db(admin_engine, template_db, factory_gpkg):
    """A database holding the small exact boundary set of tests/factory.py (shared)."""
    name, url = _factory_database(admin_engine, template_db, factory_gpkg, "factory")
    yield url
    scratch.drop_database(admin_engine, name)


@pytest.fixture(scope="module")
def private_factory_db(admin_engine, template_db, factory_gpkg):
    """A database of one test module's own with the factory boundary set (for modules that
    write coverage or settings the shared factory_db should not see)."""
    name, url = _factory_database(admin_engine, template_db, factory_gpkg, uuid.uuid4().hex[:8])
    yield url
    scratch.drop_database(admin_engine, name)


@pytest.fixture
def factory_engine(admin_engine, template_db, factory_gpkg):
    """An engine on a database of one test's own with the factory boundary set (for tests that
    publish generations or otherwise change what other tests read)."""
    name, url = _factory_database(admin_engine, template_db, factory_gpkg, uuid.uuid4().hex[:8])
    engine = db.engine(url)
    yield engine
    engine.dispose()
    scratch.drop_database(admin_engine, name)


@pytest.fixture(scope="session")
def factory_admin(factory_db):
    return make_account(factory_db, "factory-admin", "admin")


@pytest.fixture
def factory_client(factory_db, factory_admin):
    return client_for(factory_db, factory_admin["token"])


@pytest.fixture(scope="session")
def demo_db(admin_engine, template_db):
    """A database with the Anda demo boundaries, incidents and coverage set loaded (shared,
    read-mostly)."""
    from gis.boundaries.importing import import_boundaries
    from gis.demo.load import DEMO_BOUNDARIES, DEMO_INCIDENTS
    from gis.incidents.importing import import_incidents
    name, url = _create_from_template(admin_engine, template_db, "demo")
    eng = db.engine(url)
    import_boundaries(eng, DEMO_BOUNDARIES, commit=True, name="Anda demo", demo=True)
    import_incidents(eng, DEMO_INCIDENTS, source="demo")
    from gis.demo.load import load_coverage_demo
    load_coverage_demo(eng, say=lambda _line: None)  # synthetic staff, cameras, posts, roads
    yield url
    scratch.drop_database(admin_engine, name)


@pytest.fixture
def demo_engine(demo_db):
    return db.engine(demo_db)


@pytest.fixture(scope="session")
def demo_admin(demo_db):
    return make_account(demo_db, "demo-admin", "admin")


@pytest.fixture
def demo_client(demo_db, demo_admin):
    return client_for(demo_db, demo_admin["token"])


@pytest.fixture(scope="session")
def live_server(demo_db, demo_admin):
    """The real app served by waitress on a loopback port, against the demo database. The
    browser tests sign in as many people in a few minutes, all from 127.0.0.1: the sign-in
    limit per address is raised here (tests/accounts/test_auth.py checks it)."""
    from waitress.server import create_server

    from web import create_app
    app = create_app({"DATABASE_URL": demo_db, "SIGN_IN_LIMIT": "600 per minute"})
    port = free_port()
    server = create_server(app, host="127.0.0.1", port=port, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.close()


def pytest_report_header(config):
    where = "embedded cluster" if uses_embedded_database() else "GRIDGIS_DATABASE_URL"
    return f"gridgis: PostGIS from {where}; run id {RUN}; chromium {os.path.exists('/usr/bin/chromium')}"


def pytest_collection_modifyitems(config, items):
    """Mark tests by what they need: `db` (any fixture on the PostGIS server) and `browser`
    (Chromium), so that e.g. `pytest -m "not db and not browser"` runs the pure tests."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if "admin_engine" in names:
            item.add_marker(pytest.mark.db)
        if "browser" in names:
            item.add_marker(pytest.mark.browser)
