"""Folium maps shared by the pages: a new map with the configured basemap, unit outlines as
context, and the rendered parts to embed in a template. No asset is loaded from the internet:
the Folium output is rewritten to the vendored copies (web.offline); the basemap is configurable
(GRIDGIS_BASEMAP_URL: an internal tile server or Tianditu) and absent by default."""
from __future__ import annotations

import folium
from markupsafe import Markup
from shapely.geometry import shape

from gis.config import MapSettings
from gis.geo.shapes import DISPLAY_SIMPLIFY_DEG as SIMPLIFY_DEG  # noqa: F401 (pages use it)
from web.offline import localize_html

LEVEL_STYLE = {
    "cities": {"color": "#222222", "weight": 3, "fill": False},
    "townships": {"color": "#444444", "weight": 2, "fill": False, "dashArray": "6 3"},
    "villages": {"color": "#1f5fa8", "weight": 1.2, "fill": False},
    "hamlets": {"color": "#7a4fa0", "weight": 1, "fill": False, "dashArray": "2 3"},
}
LEVEL_LAYER_NAMES = {
    "cities": "市界 City",
    "townships": "乡镇/街道 Townships",
    "villages": "村/社区 Villages / communities",
    "hamlets": "屯 Hamlets",
}


def new_map(bounds) -> folium.Map:
    settings = MapSettings()
    m = folium.Map(tiles=None, control_scale=True, zoom_control=True)
    if settings.basemap_url:
        folium.TileLayer(settings.basemap_url, attr=settings.basemap_attribution,
                         name="底图 Basemap").add_to(m)
    if bounds:
        m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    return m


def map_parts(m: folium.Map) -> dict:
    """Split a rendered Folium map into header, body and script for embedding in a page."""
    root = m.get_root()
    root.render()
    return {"map_header": Markup(localize_html(root.header.render())),
            "map_html": Markup(root.html.render()),
            "map_script": Markup(root.script.render())}


def outline_layers(m, outlines: dict[str, dict], show=("cities", "townships", "villages")):
    """Unit outlines as context layers (gis.features.collections.outlines), township names as
    labels."""
    for name, style in LEVEL_STYLE.items():
        fc = outlines.get(name)
        if not fc or not fc["features"]:
            continue
        group = folium.FeatureGroup(name=LEVEL_LAYER_NAMES[name], show=name in show)
        folium.GeoJson(fc, style_function=lambda _f, s=style: s,
                       tooltip=folium.GeoJsonTooltip(["code", "name"], aliases=["代码 Code",
                                                                                  "名称 Name"]),
                       ).add_to(group)
        group.add_to(m)
        if name == "townships":
            _labels(m, fc, "乡镇名称 Township names")


def _labels(m, fc, layer_name):
    """Name labels for units large enough to hold one at city zoom (small urban subdistricts
    show their names in tooltips and once zoomed in)."""
    group = folium.FeatureGroup(name=layer_name, show=True)
    total = sum(f["properties"]["area_km2"] for f in fc["features"]) or 1.0
    for f in fc["features"]:
        if f["properties"]["area_km2"] < total / 60:
            continue
        p = shape(f["geometry"]).representative_point()
        folium.Marker([p.y, p.x], icon=folium.DivIcon(
            html=f'<div class="gg-label">{f["properties"]["name"]}</div>',
            icon_size=(120, 20), icon_anchor=(60, 10))).add_to(group)
    group.add_to(m)
