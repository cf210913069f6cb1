"""Map pages rendered with Folium: coverage and hotspots. No asset is loaded from the internet:
the Folium output is rewritten to the vendored copies (web.offline); the basemap is configurable
(GRIDGIS_BASEMAP_URL: an internal tile server or Tianditu) and absent by default."""
from __future__ import annotations

import branca.colormap as cm
import folium
from flask import Blueprint, render_template
from markupsafe import Markup
from shapely.geometry import shape

from gis.config import MapSettings
from gis.domain import CATEGORIES
from gis.store import boundaries as bstore
from gis.store import features
from gis.store import incidents as istore
from web import engine
from web.auth import principal, requires
from web.offline import localize_html

bp = Blueprint("maps", __name__, url_prefix="/maps")

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
SIMPLIFY_DEG = 0.00005  # about 5 m: display only
OUTLINE_SIMPLIFY_DEG = 0.0001  # unit outlines drawn as context


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


def _collection(conn, name: str, gen_id: int, simplify: float = SIMPLIFY_DEG):
    feats, _ = features.items(conn, features.COLLECTIONS[name],
                              features.ItemQuery(gen_id, principal().scope, limit=100_000,
                                                 simplify=simplify))
    return {"type": "FeatureCollection", "features": feats}


def _outline_layers(m, conn, gen_id, show=("cities", "townships", "villages"),
                    levels=tuple(LEVEL_STYLE)):
    for name, style in LEVEL_STYLE.items():
        if name not in levels:
            continue
        fc = _collection(conn, name, gen_id, OUTLINE_SIMPLIFY_DEG)
        if not fc["features"]:
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


@bp.get("/coverage")
@requires("view")
def coverage():
    with engine().connect() as conn:
        gen = bstore.require_active_generation(conn)
        city = _collection(conn, "cities", gen["id"])
        bounds = features.extent(conn, features.COLLECTIONS["grids"], gen["id"],
                                 principal().scope)
        m = new_map(bounds)
        grids = _collection(conn, "grids", gen["id"])
        households = [f["properties"]["households"] for f in grids["features"]] or [0]
        cmap = cm.LinearColormap(["#f7fcf5", "#74c476", "#00441b"], vmin=min(households),
                                 vmax=max(households),
                                 caption="每网格户数 Households per grid")
        grid_group = folium.FeatureGroup(name="网格 Grids (户数 households)", show=True)
        folium.GeoJson(
            grids,
            style_function=lambda f: {"fillColor": cmap(f["properties"]["households"]),
                                      "color": "#555555", "weight": 0.5, "fillOpacity": 0.65},
            highlight_function=lambda f: {"weight": 2, "color": "#000000"},
            tooltip=folium.GeoJsonTooltip(
                ["code", "name", "parent_name", "households", "population"],
                aliases=["网格编码 Grid code", "名称 Name", "所属 Unit", "户数 Households",
                         "人口 Population"]),
        ).add_to(grid_group)
        grid_group.add_to(m)
        cmap.add_to(m)
        _outline_layers(m, conn, gen["id"])
        uncovered = istore.uncovered(conn, principal().scope)
        gap_group = folium.FeatureGroup(name=f"未覆盖事件 Uncovered incidents ({len(uncovered)})",
                                        show=True)
        for r in uncovered:
            label = CATEGORIES.get(r["category"], (r["category"], ""))
            folium.CircleMarker(
                [r["lat"], r["lon"]], radius=6, color="#c00000", fill=True, fill_opacity=0.9,
                tooltip=f"未覆盖 Uncovered: {r['external_id']} {label[0]} {label[1]} "
                        f"{r['occurred_at']:%Y-%m-%d}").add_to(gap_group)
        gap_group.add_to(m)
        folium.LayerControl(collapsed=False).add_to(m)
        stats = {
            "grids": len(grids["features"]),
            "households": sum(households),
            "uncovered": len(uncovered),
            "generation": gen["name"],
            "city": city["features"][0]["properties"]["name"] if city["features"] else "",
        }
    legend = [("#c00000", "●", "未覆盖事件 Uncovered incident (coverage gap)"),
              ("#444444", "- -", "乡镇/街道界 Township boundary"),
              ("#1f5fa8", "—", "村/社区界 Village / community boundary")]
    return render_template("map.html", title="覆盖地图 Coverage map", page="coverage",
                           stats=stats, legend=legend, **map_parts(m))
