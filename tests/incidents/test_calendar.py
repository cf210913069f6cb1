"""The work calendar: parsing, the periods it spans, and the database's work_add against the
pure reference over many start times and lengths (real PostGIS), changed through the API."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy import text

from gis.errors import UnprocessableError
from gis.incidents import calendar as cal
from gis.store import db
from tests.helpers import client_for, make_account

SH = ZoneInfo("Asia/Shanghai")


def at(*args) -> datetime:
    return datetime(*args, tzinfo=SH)


def small(**kw) -> cal.WorkCalendar:
    return cal.parse_calendar({"first_year": 2026, "last_year": 2026, **kw})


def test_default_calendar_is_two_periods_monday_to_friday():
    c = cal.parse_calendar({})
    assert c.hours_per_day() == 7.5 and c.weekdays == {1, 2, 3, 4, 5}
    ps = cal.periods(small())
    assert ps[0] == (at(2026, 1, 1, 8, 30), at(2026, 1, 1, 12, 0))  # 1 January is a Thursday
    assert len(ps) == 2 * 261  # the working days of 2026


@pytest.mark.parametrize("body,field", [
    ({"periods": [["08:30", "07:00"]]}, "periods"), ({"periods": [["8:30", "12:00"]]}, "periods"),
    ({"periods": [["08:00", "12:00"], ["11:00", "13:00"]]}, "periods"),
    ({"weekdays": [0]}, "weekdays"), ({"weekdays": [True]}, "weekdays"),
    ({"holidays": ["2026-02-30"]}, "holidays"), ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"first_year": 2050, "last_year": 2040}, "first_year"), ({"colour": "red"}, "colour"),
])
def test_bad_calendars_are_refused_naming_the_key(body, field):
    with pytest.raises(UnprocessableError) as err:
        cal.parse_calendar(body)
    assert err.value.field == field


def test_holidays_and_make_up_days_change_the_working_days():
    c = small(holidays=["2026-10-01", "2026-10-02"], workdays=["2026-10-10"])
    assert not c.is_working_day(date(2026, 10, 1))
    assert c.is_working_day(date(2026, 10, 10))  # a Saturday worked instead
    ps = cal.periods(c)
    # Wednesday 30 September 17:00 + 4 working hours: 0.5 h, then (1-2 October off, 3-4
    # the weekend) 3.5 h on Monday 5 October; Friday 9 October 17:00 + 1 h ends on the
    # make-up Saturday
    assert cal.add_working_hours(ps, at(2026, 9, 30, 17, 0), 4) == at(2026, 10, 5, 12, 0)
    assert cal.add_working_hours(ps, at(2026, 10, 9, 17, 0), 1) == at(2026, 10, 10, 9, 0)


def test_reference_addition_skips_nights_lunch_and_weekends():
    ps = cal.periods(small())
    assert cal.add_working_hours(ps, at(2026, 6, 5, 16, 30), 4) == at(2026, 6, 8, 11, 30)
    assert cal.add_working_hours(ps, at(2026, 6, 8, 11, 30), 1) == at(2026, 6, 8, 14, 0)
    assert cal.add_working_hours(ps, at(2026, 6, 8, 11, 0), 1) == at(2026, 6, 8, 12, 0)
    assert cal.add_working_hours(ps, at(2026, 6, 6, 3, 0), 0.5) == at(2026, 6, 8, 9, 0)
    assert cal.add_working_hours(ps, at(2026, 6, 8, 12, 30), 0) == at(2026, 6, 8, 12, 30)
    assert cal.add_working_hours([], at(2026, 6, 8, 12, 30), 5) == at(2026, 6, 8, 17, 30)


def test_the_vectorised_addition_equals_the_reference():
    ps = cal.periods(small(holidays=["2026-05-01"]))
    table = cal.PeriodTable(np.array([s.timestamp() for s, _ in ps]),
                            np.array([e.timestamp() for _, e in ps]),
                            np.cumsum([0] + [(e - s).total_seconds() for s, e in ps])[:-1])
    rng = np.random.default_rng(5)
    t = at(2026, 1, 1).timestamp() + rng.uniform(0, 360 * 86400, 500)
    hours = rng.choice([0, 0.5, 3.2, 4, 40, 9000], 500)
    got = table.add(t, hours * 3600)
    want = [cal.add_working_hours(ps, datetime.fromtimestamp(s, timezone.utc), h).timestamp()
            for s, h in zip(t, hours)]
    assert got == pytest.approx(want, abs=1e-3)
    empty = cal.PeriodTable(np.empty(0), np.empty(0), np.empty(0))
    assert empty.add(t[:3], hours[:3] * 3600) == pytest.approx(t[:3] + hours[:3] * 3600)


def test_work_add_in_the_database_equals_the_reference(fresh_db):
    ps = cal.periods(cal.parse_calendar({}))
    rng = np.random.default_rng(3)
    base = at(2026, 1, 1).timestamp()
    starts = [datetime.fromtimestamp(base + s, timezone.utc)
              for s in rng.uniform(0, 365 * 86400, 300)]
    starts += [at(2026, 6, 5, 17, 30), at(2026, 6, 8, 8, 30), at(2026, 6, 8, 12, 0)]
    hours = [float(h) for h in rng.choice([0.25, 1, 4, 7.5, 8, 40, 100], len(starts))]
    with db.engine(fresh_db).connect() as conn:
        got = conn.execute(text(
            "SELECT work_add(t, h * 3600) FROM unnest(CAST(:t AS timestamptz[]), "
            "CAST(:h AS float8[])) WITH ORDINALITY AS x(t, h, n) ORDER BY n"),
            {"t": starts, "h": hours}).scalars().all()
    want = [cal.add_working_hours(ps, s, h) for s, h in zip(starts, hours)]
    assert [g.timestamp() for g in got] == pytest.approx([w.timestamp() for w in want],
                                                         abs=1e-3)


def test_calendar_and_limits_through_the_api(fresh_db, factory_gpkg):
    from gis.boundaries.importing import import_boundaries
    import_boundaries(db.engine(fresh_db), factory_gpkg, commit=True, name="factory")
    admin = client_for(fresh_db, make_account(fresh_db, "cal-admin", "admin")["token"])
    official = client_for(fresh_db, make_account(fresh_db, "cal-off", "official",
                                                 ["231281101000"])["token"])
    assert official.get("/api/v1/calendar").get_json()["hours_per_day"] == 7.5
    assert official.put("/api/v1/calendar", json={"periods": []}).status_code == 403
    res = admin.put("/api/v1/calendar", json={"periods": [["09:00", "17:00"]],
                                              "holidays": ["2026-06-08"],
                                              "first_year": 2025, "last_year": 2027})
    assert res.status_code == 200, res.get_json()
    assert res.get_json()["hours_per_day"] == 8 and res.get_json()["holidays"] == ["2026-06-08"]
    with db.engine(fresh_db).connect() as conn:
        due = conn.execute(text("SELECT work_add(:t, 4 * 3600)"),
                           {"t": at(2026, 6, 5, 15, 0)}).scalar()
    assert due == at(2026, 6, 9, 11, 0)  # Friday 2 h, Monday a holiday, Tuesday 2 h
    bad = admin.put("/api/v1/calendar", json={"periods": [["18:00", "09:00"]]})
    assert bad.status_code == 422
    assert admin.get("/api/v1/calendar").get_json()["periods"] == [["09:00", "17:00"]]
    natural = admin.put("/api/v1/calendar", json={"periods": []}).get_json()
    assert natural["natural_hours"] is True
    with db.engine(fresh_db).connect() as conn:
        t = at(2026, 6, 6, 23, 0)
        assert conn.execute(text("SELECT work_add(:t, 3600)"), {"t": t}).scalar() == \
            t + timedelta(hours=1)
    limits = admin.put("/api/v1/stage-limits", json={"limits": [
        {"category": "petition", "stage": "handle", "hours": 16},
        {"category": "", "stage": "accept", "hours": 2}]})
    assert limits.status_code == 200, limits.get_json()
    got = {(r["category"], r["stage"]): r["hours"] for r in limits.get_json()["limits"]}
    assert got[("petition", "handle")] == 16 and got[("", "accept")] == 2
    assert admin.put("/api/v1/stage-limits", json={"limits": [
        {"category": "alien", "stage": "handle", "hours": 1}]}).status_code == 422
    assert official.put("/api/v1/stage-limits", json={"limits": [
        {"stage": "handle", "hours": 1}]}).status_code == 403
    gone = admin.put("/api/v1/stage-limits", json={"remove": [
        {"category": "petition", "stage": "handle"}]}).get_json()
    assert ("petition", "handle") not in {(r["category"], r["stage"]) for r in gone["limits"]}
