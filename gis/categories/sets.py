"""The category sets that ship with gridgis, as data.

- "default": the ten categories every deployment starts with (gis.domain.CATEGORIES, seeded by
  migration 0014), under the parent classes 矛盾纠纷 Disputes, 治安安全 Public order and safety
  and 群众诉求 Public requests. traffic_accident (交通事故纠纷) stays out of 矛盾纠纷 so that the
  "dispute" filter keeps meaning the five dispute_* categories.
- "cjt214": the event classes of the national urban-management standard CJ/T 214-2007
  (城市市政综合监管信息系统 管理部件和事件分类、编码及数据要求): its six major classes 市容环境,
  宣传广告, 施工管理, 突发事件, 街面秩序 and 扩展 as parent classes, each with a common selection
  of its subclasses (not the standard's full list, and without its numeric codes). Optional:
  an administrator loads it (`gridgis categories load-set cjt214`, or
  POST /api/v1/categories/sets/cjt214); loading it again adds nothing.
"""
from __future__ import annotations

from gis.categories.rules import DISPUTES, Category
from gis.domain import CATEGORIES

DEFAULT_PARENTS = {
    "dispute_neighbour": DISPUTES, "dispute_family": DISPUTES, "dispute_land": DISPUTES,
    "dispute_labour": DISPUTES, "dispute_property": DISPUTES,
    "traffic_accident": "治安安全", "public_security": "治安安全", "safety_hazard": "治安安全",
    "hotline_12345": "群众诉求", "petition": "群众诉求",
}
DEFAULT = tuple(Category(code, zh, en, DEFAULT_PARENTS[code], sort_order=10 * (i + 1))
                for i, (code, (zh, en)) in enumerate(CATEGORIES.items()))

# major class -> (code prefix, [(suffix, Chinese, English), ...])
CJT214_CLASSES = {
    "市容环境": ("cj_sanitation", [
        ("illegal_structure", "私搭乱建", "Unauthorised structure"),
        ("exposed_rubbish", "暴露垃圾", "Exposed rubbish"),
        ("rubbish_muck", "积存垃圾渣土", "Accumulated rubbish and muck"),
        ("dirty_road", "道路不洁", "Dirty road surface"),
        ("dirty_water", "水域不洁", "Dirty water surface"),
        ("dirty_green", "绿地脏乱", "Littered green space"),
        ("abandoned_vehicle", "废弃车辆", "Abandoned vehicle"),
        ("abandoned_furniture", "废弃家具设备", "Abandoned furniture or equipment"),
        ("tree_hangings", "非装饰性树挂", "Non-decorative objects hung on trees"),
        ("exposed_sewage", "污水外溢", "Sewage overflow"),
    ]),
    "宣传广告": ("cj_advert", [
        ("small_ads", "非法小广告", "Illegal small advertisements"),
        ("posted_ads", "违章张贴悬挂广告", "Unauthorised posted or hung advertising"),
        ("road_signboard", "占道广告牌", "Advertising board on the road"),
        ("leaflets", "街头散发广告", "Leaflets handed out in the street"),
        ("damaged_sign", "广告招牌破损", "Damaged advertising sign"),
    ]),
    "施工管理": ("cj_works", [
        ("noise", "施工扰民", "Construction disturbing residents"),
        ("dust", "工地扬尘", "Dust from a construction site"),
        ("road_spill", "道路遗撒", "Spillage on the road"),
        ("waste", "施工废弃料", "Construction waste"),
        ("road_occupation", "施工占道", "Construction occupying the road"),
        ("unlicensed_digging", "无证掘路", "Road dug up without a permit"),
    ]),
    "突发事件": ("cj_emergency", [
        ("road_collapse", "路面塌陷", "Road surface collapse"),
        ("water_main", "自来水管破裂", "Burst water main"),
        ("gas_pipe", "燃气管道破裂", "Ruptured gas pipe"),
        ("sewer", "下水道堵塞或破损", "Blocked or broken sewer"),
        ("flooding", "道路积水", "Flooded road"),
        ("snow_ice", "道路积雪结冰", "Snow or ice on the road"),
        ("fallen_cable", "架空线缆损坏", "Damaged overhead cable"),
    ]),
    "街面秩序": ("cj_street", [
        ("vendor", "无照经营游商", "Unlicensed street vendor"),
        ("begging", "流浪乞讨", "Vagrancy and begging"),
        ("scrap_buying", "占道废品收购", "Scrap buying on the road"),
        ("outside_shop", "店外经营", "Business outside the shop"),
        ("car_parking", "机动车乱停放", "Illegally parked motor vehicle"),
        ("bike_parking", "非机动车乱停放", "Illegally parked bicycle or e-bike"),
        ("barbecue", "露天烧烤", "Open-air barbecue"),
        ("stacking", "乱堆物堆料", "Goods or materials piled in public space"),
    ]),
    "扩展": ("cj_extra", [
        ("noise", "噪声扰民", "Noise disturbing residents"),
        ("cooking_fumes", "餐饮油烟污染", "Cooking fumes from restaurants"),
        ("animals", "违规饲养", "Animals kept against the rules"),
        ("burning", "焚烧垃圾树叶", "Burning rubbish or leaves"),
        ("other", "其他城市管理问题", "Other urban-management problem"),
    ]),
}
CJT214 = tuple(
    Category(f"{prefix}_{suffix}", zh, en, major, sort_order=1000 + 100 * m + i)
    for m, (major, (prefix, rows)) in enumerate(CJT214_CLASSES.items())
    for i, (suffix, zh, en) in enumerate(rows))

SETS = {"default": DEFAULT, "cjt214": CJT214}
SET_LABELS = {"default": "默认类别 The default categories",
              "cjt214": "CJ/T 214 城市管理事件 Urban-management events (CJ/T 214)"}
