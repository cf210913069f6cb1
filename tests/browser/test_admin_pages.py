"""The administrators' pages in real headless Chromium: an account is created with units chosen
in the unit picker, disabled, given a new password; the audit trail shows it, filtered, and
exports it as CSV."""
from __future__ import annotations

import uuid

from sqlalchemy import text

from gis.store import db
from tests.helpers.browser import Visit


def test_an_administrator_manages_accounts_and_reads_the_audit_trail(browser, live_server,
                                                                     demo_db, demo_admin):
    with db.engine(demo_db).connect() as conn:
        code, name = conn.execute(text(
            "SELECT a.code, a.name FROM admin_area a JOIN generation g ON g.id = a.generation_id "
            "AND g.is_active WHERE a.level = 4 ORDER BY a.code LIMIT 1")).one()
    username = f"new-{uuid.uuid4().hex[:6]}"
    with Visit(browser, f"{live_server}/admin/accounts", demo_admin) as v:
        page = v.page
        page.wait_for_selector("#gg-account-rows tr")
        page.fill("input[name=username]", username)
        page.fill("input[name=display_name]", "新网格员 New worker")
        page.select_option("select[name=role]", "official")
        page.fill("#gg-unit-search", name[:2])
        page.wait_for_function(
            "c => [...document.querySelectorAll('#gg-unit-options option')]"
            ".some(o => o.value.startsWith(c))", arg=code)
        option = page.evaluate(
            "c => [...document.querySelectorAll('#gg-unit-options option')]"
            ".find(o => o.value.startsWith(c)).value", code)
        page.fill("#gg-unit-search", option)
        page.wait_for_selector(f".gg-chip[data-code='{code}']")
        page.click("#gg-new-account button[type=submit]")
        row = f"#gg-account-rows tr[data-username='{username}']"
        page.wait_for_selector(row)
        assert code in page.inner_text(row) and "启用 active" in page.inner_text(row)
        page.click(f"{row} button[data-do=toggle]")
        page.wait_for_function(f"() => document.querySelector(\"{row}\").textContent"
                               ".includes('停用 disabled')")
        page.click(f"{row} button[data-do=reset]")
        page.wait_for_function("() => document.querySelector('#gg-admin-message').textContent"
                               ".includes('新密码')")
        v.check_clean()
    with db.engine(demo_db).connect() as conn:
        active, units = conn.execute(text(
            "SELECT a.active, array_agg(u.code) FROM account a JOIN account_unit u "
            "ON u.account_id = a.id WHERE a.username = :u GROUP BY a.active"),
            {"u": username}).one()
    assert active is False and units == [code]
    with Visit(browser, f"{live_server}/admin/audit", demo_admin) as v:
        page = v.page
        page.wait_for_selector("#gg-audit-rows tr")
        page.select_option("select[name=action]", "account_create")
        page.click("#gg-audit-filters button[type=submit]")
        page.wait_for_function("() => [...document.querySelectorAll('#gg-audit-rows tr')]"
                               ".every(r => r.dataset.action === 'account_create')")
        assert username in page.inner_text("#gg-audit-rows")
        href = page.get_attribute("#gg-audit-csv", "href")
        assert "format=csv" in href and "action=account_create" in href
        body = page.evaluate("u => fetch(u).then(r => r.text())", href)
        assert username in body and "操作 Action" in body
        v.check_clean()
