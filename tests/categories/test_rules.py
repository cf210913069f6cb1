"""Category rules without a database: what administrators may send, the catalogue's groups and
refusals, and how parsing, filters and cache keys use the list they are given."""
from __future__ import annotations

import pandas as pd
import pytest

from gis.access.scope import Scope
from gis.analysis.results import filter_params
from gis.categories.rules import Catalogue, Category, parse_changes, parse_new
from gis.categories.sets import CJT214, CJT214_CLASSES, DEFAULT
from gis.domain import CATEGORIES
from gis.errors import InputError, UnprocessableError
from gis.incidents.filters import parse_filter
from gis.incidents.parse import TableOptions, parse_feature, validate_table
from gis.results.cache import key_of

OWN = Catalogue((*DEFAULT,
                 Category("village_quarrel", "村民口角", "Villagers' quarrel", "矛盾纠纷",
                          sort_order=55),
                 Category("old_kind", "旧类别", "Old kind", "治安安全", active=False,
                          sort_order=200)))


def feature(category):
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [125.05, 46.05]},
            "properties": {"external_id": "r-1", "category": category,
                           "occurred_at": "2026-05-01T09:30:00+08:00"}}


def test_the_default_set_is_the_ten_and_the_cjt214_set_has_its_six_classes():
    assert {c.code: (c.name_zh, c.name_en) for c in DEFAULT} == CATEGORIES
    assert [c.code for c in DEFAULT if c.is_dispute] == [
        c for c in CATEGORIES if c.startswith("dispute_")]
    assert list(CJT214_CLASSES) == ["市容环境", "宣传广告", "施工管理", "突发事件", "街面秩序", "扩展"]
    assert {c.parent_class for c in CJT214} == set(CJT214_CLASSES)
    assert all(c.code.startswith("cj_") and c.name_zh and c.name_en for c in CJT214)
    assert len({c.code for c in CJT214}) == len(CJT214) and not any(c.is_dispute for c in CJT214)


def test_the_dispute_group_takes_the_parent_class_and_the_dispute_codes():
    groups = OWN.groups()
    assert groups["dispute"] == (*(c for c in CATEGORIES if c.startswith("dispute_")),
                                 "village_quarrel")
    f = parse_filter({"category": "dispute"}, categories=OWN)
    assert "village_quarrel" in f.categories and "traffic_accident" not in f.categories
    assert parse_filter({"category": "dispute"}).categories == groups["dispute"][:-1]
    # deactivated categories stay filterable (their incidents remain)
    assert parse_filter({"category": "old_kind"}, categories=OWN).categories == ("old_kind",)
    with pytest.raises(InputError) as err:
        parse_filter({"category": "ufo"}, categories=OWN)
    assert err.value.field == "category" and "village_quarrel" in err.value.message
    empty = Catalogue((Category("only_one", "唯一", "Only one"),))
    with pytest.raises(InputError, match="no category belongs to 'dispute'"):
        parse_filter({"category": "dispute"}, categories=empty)


def test_sources_filter_and_the_cache_key():
    f = parse_filter({"source": " 12345, api ,,12345", "category": "petition"})
    assert f.sources == ("12345", "api")
    assert "来源 source 12345,api" in f.describe() and "信访" in f.describe()
    with pytest.raises(InputError) as err:
        parse_filter({"source": "x" * 129})
    assert err.value.field == "source"
    plain = parse_filter({"category": "petition"})
    keys = {key_of("figures", 1, Scope.all(), filter_params(g), {"incidents": 1})
            for g in (plain, f, parse_filter({"category": "petition", "source": "api"}))}
    assert len(keys) == 3
    # no source: the key of earlier revisions (stored answers stay valid)
    assert "source" not in {k for k, v in filter_params(plain).items() if v not in (None, "")}


def test_reports_take_active_categories_of_the_list_given():
    assert parse_feature(feature("village_quarrel"), categories=OWN).category == \
        "village_quarrel"
    with pytest.raises(UnprocessableError) as err:
        parse_feature(feature("old_kind"), categories=OWN)
    assert err.value.field == "category"
    assert err.value.message.startswith("category 'old_kind' is deactivated")
    assert "village_quarrel" in err.value.message and "old_kind," not in err.value.message
    with pytest.raises(UnprocessableError, match="unknown category 'ufo'; use one of: "
                                                 "dispute_neighbour, dispute_family"):
        parse_feature(feature("ufo"), categories=OWN)
    with pytest.raises(UnprocessableError, match="category is required"):
        parse_feature(feature(None), categories=OWN)
    # without a list: the form of the code only (the caller holds the list)
    assert parse_feature(feature("anything_new")).category == "anything_new"
    with pytest.raises(UnprocessableError, match="is not a category code"):
        parse_feature(feature("Not A Code"))


def test_tables_take_active_categories_with_one_message_per_value():
    raw = pd.DataFrame({"external_id": ["a", "b", "c", "d"],
                        "category": ["village_quarrel", "old_kind", "ufo", "ufo"],
                        "occurred_at": ["2026-05-01"] * 4, "lon": [125.05] * 4,
                        "lat": [46.05] * 4})
    good, bad = validate_table(raw, categories=OWN)
    assert list(good["external_id"]) == ["a"]
    assert [p["row"] for p in bad] == [3, 4, 5]
    assert bad[0]["error"].startswith("category 'old_kind' is deactivated")
    assert bad[1]["error"] == bad[2]["error"]
    assert bad[1]["error"].startswith("unknown category 'ufo'; use one of: dispute_neighbour")
    assert "... (12 in all" not in bad[1]["error"]  # 11 active: all named
    big = Catalogue((*OWN.categories, *CJT214))
    _, bad = validate_table(raw, categories=big)
    assert "(52 in all: gridgis categories list" in bad[1]["error"]
    with pytest.raises(InputError) as err:
        validate_table(raw, categories=OWN,
                       options=TableOptions(categories={"吵架": "old_kind"}))
    assert err.value.field == "category_map" and "deactivated" in err.value.message
    with pytest.raises(InputError) as err:
        validate_table(raw.drop(columns="category"), categories=OWN,
                       options=TableOptions(category="ufo"))
    assert err.value.field == "category"


def test_what_administrators_send_is_checked():
    c = parse_new({"code": "cj_street_kiosk", "name_zh": " 报刊亭  占道 ", "name_en": "Kiosk",
                   "parent_class": "街面秩序", "accept_hours": 4, "resolve_hours": 48},
                  next_sort=2000)
    assert (c.name_zh, c.sort_order, c.accept_hours, c.active) == ("报刊亭 占道", 2000, 4.0,
                                                                   True)
    for body, field in (({"code": "Bad-Code", "name_zh": "x", "name_en": "x"}, "code"),
                        ({"code": "ok_code", "name_zh": " ", "name_en": "x"}, "name_zh"),
                        ({"code": "ok_code", "name_zh": "x", "name_en": "x" * 101}, "name_en"),
                        ({"code": "ok_code", "name_zh": "a\x07b", "name_en": "x"}, "name_zh"),
                        ({"code": "ok_code", "name_zh": "x", "name_en": "x",
                          "accept_hours": 0}, "accept_hours"),
                        ({"code": "ok_code", "name_zh": "x", "name_en": "x",
                          "accept_hours": 50, "resolve_hours": 10}, "accept_hours"),
                        ({"code": "ok_code", "name_zh": "x", "name_en": "x",
                          "colour": "red"}, "colour"),
                        ({"code": "ok_code", "name_zh": "x", "name_en": "x",
                          "active": "yes"}, "active")):
        with pytest.raises(UnprocessableError) as err:
            parse_new(body)
        assert err.value.field == field, body
    changed = parse_changes({"accept_hours": None, "name_en": "Kiosk on the pavement"}, c)
    assert (changed.accept_hours, changed.resolve_hours, changed.name_en) == \
        (None, 48.0, "Kiosk on the pavement")
    with pytest.raises(UnprocessableError) as err:
        parse_changes({"code": "other"}, c)
    assert err.value.field == "code"
    with pytest.raises(UnprocessableError):
        parse_changes({"resolve_hours": 2}, c)  # below accept_hours 4
