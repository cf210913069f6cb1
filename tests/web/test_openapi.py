"""The OpenAPI document describes every API route, and schemathesis, run against the real
server over HTTP, finds no server error and no answer that breaks the document."""
from __future__ import annotations

import re
import threading
import uuid

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from gis.boundaries.importing import import_boundaries
from gis.store import db, scratch
from tests.helpers import free_port, make_account
from web.api.openapi import document_body


@pytest.fixture(scope="module")
def api_server(admin_engine, template_db, factory_gpkg):
    """A server of its own (schemathesis writes random accounts and incidents)."""
    from waitress.server import create_server

    from web import create_app
    name = f"gridgis_test_openapi_{uuid.uuid4().hex[:6]}"
    url = scratch.create_database(admin_engine, name, template=template_db)
    import_boundaries(db.engine(url), factory_gpkg, commit=True, name="factory")
    admin = make_account(url, "schema-admin", "admin")
    app = create_app({"DATABASE_URL": url, "RATELIMIT_ENABLED": False})
    server = create_server(app, host="127.0.0.1", port=free_port(), threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    yield {"base": f"http://127.0.0.1:{server.effective_port}", "token": admin["token"],
           "app": app}
    server.close()
    db.engine(url).dispose()
    scratch.drop_database(admin_engine, name)


# Revoking tokens and changing accounts could lock out the account that runs the test; those
# two operations have example tests in test_auth.py.
SCHEMA = (schemathesis.openapi.from_dict(document_body())
          .exclude(method="DELETE").exclude(method="PATCH"))
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance,
          content_type_conformance]


# valid and invalid input for every operation (the document itself takes no input at all)
CASES = [pytest.param(op, mode, id=f"{op.label} {mode.value}") for op in OPERATIONS
         for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
         if not (op.label == "GET /openapi.json" and mode is GenerationMode.NEGATIVE)]


@pytest.mark.parametrize("operation,mode", CASES)
def test_api_conforms_to_its_document(operation, mode, api_server):
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=15, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def call(case):
        case.call_and_validate(base_url=f"{api_server['base']}/api/v1",
                               headers={"Authorization": f"Bearer {api_server['token']}"},
                               checks=CHECKS)
    call()


def test_document_covers_every_api_route(api_server):
    doc = requests.get(f"{api_server['base']}/api/v1/openapi.json", timeout=10).json()
    assert doc["openapi"].startswith("3.")
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    for rule in api_server["app"].url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule[len("/api/v1"):]) or "/"
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method.lower()) in documented, f"{method} {path} is not documented"


def test_document_is_public_and_everything_else_needs_a_token(api_server):
    assert requests.get(f"{api_server['base']}/api/v1/openapi.json", timeout=10).ok
    res = requests.get(f"{api_server['base']}/api/v1/collections", timeout=10)
    assert res.status_code == 401 and res.json()["error"]["code"] == "unauthorized"
