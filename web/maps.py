"""Folium maps shared by the pages: a new map with the configured basemap, the layers every page
draws with, unit outlines as context, and the rendered parts to embed in a template.

Escaping happens here, once, for every text a map shows: Folium puts tooltip and popup text
inside JavaScript template literals and feature properties, layer names and labels into
innerHTML, unescaped. Pages build layers only with the functions below (`layer`, `geojson`,
`tooltip`, `label`, `VectorTiles`), which escape every value for HTML and neutralise the
characters that end or interpolate a template literal (`html_text`, `safe_properties`). The
tile layers' tooltips are built from text nodes in the browser (web/static/tiles.js). The
rendered script and styles carry the request's CSP nonce (web.security).

No asset is loaded from the internet: the Folium output is rewritten to the vendored copies
(web.offline); the basemap is configurable (GRIDGIS_BASEMAP_URL: an internal tile server or
Tianditu) and absent by default."""
from __future__ import annotations

import json
import re

import folium
from branca.element import Template
from folium.plugins import VectorGridProtobuf
from markupsafe import Markup, escape

from gis.config import MapSettings
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


# after HTML escaping, the characters that would end, interpolate or escape inside a JavaScript
# template literal become entities too (the sinks parse the text as HTML, so they read back)
_TEMPLATE_LITERAL = str.maketrans({"`": "&#96;", "$": "&#36;", "\\": "&#92;"})


def html_text(value) -> str:
    """Text for a tooltip, popup, label or layer name: HTML-escaped, with ` $ and \\ as
    entities (nothing in it can end a template literal, a script or an element)."""
    return str(escape("" if value is None else str(value))).translate(_TEMPLATE_LITERAL)


def safe_properties(value):
    """GeoJSON properties (any nesting) with every string escaped by html_text."""
    if isinstance(value, str):
        return html_text(value)
    if isinstance(value, dict):
        return {html_text(k): safe_properties(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [safe_properties(v) for v in value]
    return value


def _collection(data) -> dict:
    """A FeatureCollection dict from a dict, a GeoJSON string or a GeoDataFrame."""
    if hasattr(data, "to_json"):
        data = data.to_json()
    if isinstance(data, str):
        data = json.loads(data)
    return data


def layer(m, name: str, show: bool = True, control: bool = True) -> folium.FeatureGroup:
    """A layer (feature group) added to the map, its name escaped."""
    group = folium.FeatureGroup(name=html_text(name), show=show, control=control)
    group.add_to(m)
    return group


def tooltip(text) -> folium.Tooltip:
    return folium.Tooltip(html_text(text))


def geojson(parent, data, *, style, fields=(), aliases=(), highlight=None, popup_fields=(),
            popup_aliases=(), interactive=True, text=None):
    """A GeoJSON layer under `parent` whose properties, tooltip and popup are escaped. fields
    and aliases: the properties a hover tooltip shows and their labels; popup_fields: the same
    for a click popup; text: one fixed tooltip text instead."""
    fc = safe_properties(_collection(data))
    if fields:
        tip = folium.GeoJsonTooltip(list(fields), aliases=[html_text(a) for a in aliases]
                                    or None)
    else:
        tip = tooltip(text) if text is not None else None
    popup = folium.GeoJsonPopup(list(popup_fields), aliases=[html_text(a) for a in
                                                            popup_aliases] or None,
                                labels=True) if popup_fields else None
    return folium.GeoJson(fc, style_function=style, highlight_function=highlight, tooltip=tip,
                          popup=popup, interactive=interactive).add_to(parent)


def label(parent, lat: float, lon: float, text, width: int = 120) -> folium.Marker:
    """A text label on the map (a DivIcon), escaped."""
    return folium.Marker([lat, lon], icon=folium.DivIcon(
        html=f'<div class="gg-label">{html_text(text)}</div>', icon_size=(width, 20),
        icon_anchor=(width // 2, 10))).add_to(parent)


class VectorTiles(VectorGridProtobuf):
    """A tile layer of /tiles drawn by Leaflet.VectorGrid (Folium's VectorGridProtobuf, vendored)
    through web/static/tiles.js: `spec` says the MVT layer name, the style (fixed, or a fill
    class from a property's breaks and colours), the tooltip and popup fields as (property,
    label) pairs, the highlight, the zoom from which it draws, and a drill-down URL template.
    Tooltips and popups are built from text nodes in the browser, never parsed as HTML."""

    _template = Template("""
        {% macro script(this, kwargs) -%}
        var {{ this.get_name() }} = gridgisTiles.layer({{ this.url|tojson }},
                                                      {{ this.spec|tojson }});
        {%- endmacro %}""")
    default_js = [*VectorGridProtobuf.default_js, ("gridgis_tiles", "/static/tiles.js")]

    def __init__(self, url: str, name: str, spec: dict, show: bool = True):
        super().__init__(url, name=html_text(name), show=show)
        self._name = "VectorTiles"
        self.spec = spec


def tile_url(layer: str, **params) -> str:
    """The URL template of a tile layer ({z}/{x}/{y} left for Leaflet), with query params."""
    from urllib.parse import urlencode
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return f"/tiles/{layer}/{{z}}/{{x}}/{{y}}.mvt" + (f"?{query}" if query else "")


def class_rule(property_: str, breaks, colours, missing: str = "#cccccc") -> dict:
    """A fill by classes: colours[i] for values up to breaks[i] (the last for anything above)."""
    return {"property": property_, "breaks": [float(b) for b in breaks],
            "colours": list(colours), "missing": missing}


def new_map(bounds) -> folium.Map:
    settings = MapSettings()
    # explicit zoom limits: otherwise the first tile layer's own range would clamp the map
    m = folium.Map(tiles=None, control_scale=True, zoom_control=True, minZoom=3, maxZoom=19)
    if settings.basemap_url:
        folium.TileLayer(settings.basemap_url, attr=settings.basemap_attribution,
                         name="底图 Basemap").add_to(m)
    if bounds:
        m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    return m


_INLINE = re.compile(r"<(script|style)\b(?![^>]*\bnonce=)", re.I)


def with_nonce(html: str) -> str:
    """Every <script> and <style> tag of Folium's markup with the request's CSP nonce."""
    from web.security import csp_nonce
    nonce = csp_nonce()
    return _INLINE.sub(lambda m: f'<{m.group(1)} nonce="{nonce}"', html)


def map_parts(m: folium.Map, expose=()) -> dict:
    """Split a rendered Folium map into header, body and script for embedding in a page: the
    header's and body's inline scripts and styles get the CSP nonce; the template wraps the map
    script in one nonce'd <script> (so nothing in it can start another script). The map and the
    Folium elements in `expose` become window.gridgisObjects[element name] for page scripts
    (Folium declares some with `let`, out of other scripts' reach by name)."""
    root = m.get_root()
    root.render()
    names = [m.get_name(), *(e.get_name() for e in expose)]
    shared = ("window.gridgisObjects = {"
              + ", ".join(f"{json.dumps(n)}: {n}" for n in names) + "};")
    return {"map_header": Markup(with_nonce(localize_html(root.header.render()))),
            "map_html": Markup(with_nonce(root.html.render())),
            "map_script": Markup(root.script.render() + "\n" + shared)}


def outline_tiles(m, generation_id: int, show=("cities", "townships", "villages"),
                  levels=tuple(LEVEL_STYLE), labels=(), min_zooms=None) -> list[VectorTiles]:
    """Unit outlines as tile layers (context lines, not interactive: the layers they outline
    carry the tooltips), drawn from min_zooms[level] where given, and township name labels at
    the given points ([{name, lon, lat}]). Returns the outline layers."""
    made = []
    for name in levels:
        spec = {"layer": name, "style": {**LEVEL_STYLE[name], "fill": False}}
        if min_zooms and name in min_zooms:
            spec["minZoom"] = min_zooms[name]
        made.append(VectorTiles(tile_url(name, g=generation_id), LEVEL_LAYER_NAMES[name], spec,
                                show=name in show).add_to(m))
    if labels:
        group = layer(m, "乡镇名称 Township names")
        for p in labels:
            label(group, p["lat"], p["lon"], p["name"])
    return made
