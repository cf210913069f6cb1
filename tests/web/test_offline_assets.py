"""Folium pages must load every script and stylesheet from web/static/vendor."""

import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import branca.colormap
import folium
import pytest
from folium import plugins

from web.offline import (
    VENDOR_DIR,
    ExternalAssetError,
    is_external,
    localize_html,
    missing_vendor_files,
    resolve_url,
)

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "/static/vendor"


@pytest.fixture(scope="session", autouse=True)
def vendored():
    """Run the (idempotent) vendoring script once per session."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "vendor_assets.py")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


class _AssetRefs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("src"):
            self.urls.append(attrs["src"])
        elif tag == "link" and attrs.get("href"):
            self.urls.append(attrs["href"])


def asset_refs(html):
    parser = _AssetRefs()
    parser.feed(html)
    return parser.urls


def _base(m):
    folium.Marker([52.1, 5.1], icon=folium.Icon()).add_to(m)  # glyphicon marker
    folium.Marker([52.2, 5.2], icon=folium.Icon(icon="house", prefix="fa", angle=45)).add_to(m)


def _heatmap(m):
    plugins.HeatMap([[52.1, 5.1, 1.0], [52.2, 5.2, 0.5]]).add_to(m)


def _heatmap_with_time(m):
    plugins.HeatMapWithTime([[[52.1, 5.1, 1.0]], [[52.2, 5.2, 1.0]]], index=["t0", "t1"]).add_to(m)


def _draw(m):
    plugins.Draw(export=True).add_to(m)


def _marker_cluster(m):
    cluster = plugins.MarkerCluster().add_to(m)
    for i in range(3):
        folium.Marker([52.1 + i / 100, 5.1]).add_to(cluster)


def _fullscreen(m):
    plugins.Fullscreen().add_to(m)


def _mouse_position(m):
    plugins.MousePosition().add_to(m)


def _colormap(m):
    branca.colormap.LinearColormap(["green", "red"], vmin=0, vmax=1, caption="load").add_to(m)


FEATURES = {
    "defaults": _base,
    "heatmap": _heatmap,
    "heatmap_with_time": _heatmap_with_time,
    "draw": _draw,
    "marker_cluster": _marker_cluster,
    "fullscreen": _fullscreen,
    "mouse_position": _mouse_position,
    "colormap": _colormap,
}


def render(*features):
    m = folium.Map(location=[52.1, 5.1], zoom_start=10)
    for feature in features:
        FEATURES[feature](m)
    return m.get_root().render()


@pytest.mark.parametrize("feature", list(FEATURES))
def test_rendered_page_uses_only_vendored_assets(feature):
    html = render(feature)
    assert any(is_external(u) for u in asset_refs(html)), "folium no longer uses CDNs?"

    local = localize_html(html, prefix=PREFIX)

    refs = asset_refs(local)
    assert refs
    for url in refs:
        assert not re.match(r"(?i)(https?:)?//", url), url
        assert url.startswith(PREFIX + "/"), url
        assert (VENDOR_DIR / url[len(PREFIX) + 1:]).is_file(), url


def test_all_features_on_one_page():
    local = localize_html(render(*FEATURES))
    assert not [u for u in asset_refs(local) if is_external(u)]


def test_only_script_and_link_urls_change():
    tiles = "https://tiles.example.gov/wmts/{z}/{x}/{y}.png"
    m = folium.Map(location=[52.1, 5.1], tiles=tiles, attr='<a href="https://example.gov/">Kadaster</a>')
    html = m.get_root().render()

    local = localize_html(html)

    assert local.count(tiles) == html.count(tiles) == 1
    assert local.count("https://example.gov/") == html.count("https://example.gov/")
    tags = re.compile(r"<(?:script|link)\b[^>]*>", re.I)
    assert tags.split(local) == tags.split(html)


@pytest.mark.parametrize(
    "tag",
    [
        '<script src="https://evil.example.com/tracker.js"></script>',
        "<link rel='stylesheet' href='//fonts.example.com/css?family=Roboto'/>",
        '<script src="https://cdn.jsdelivr.net/npm/bootstrap@4.6.0/dist/js/bootstrap.bundle.min.js"></script>',
    ],
)
def test_unknown_external_asset_raises(tag):
    url = re.search(r"(?:src|href)=[\"']([^\"']+)", tag).group(1)
    with pytest.raises(ExternalAssetError) as exc:
        localize_html(f"<html><head>{tag}</head></html>")
    assert exc.value.url == url
    assert url in str(exc.value)


def test_local_and_data_urls_are_left_alone():
    html = '<script src="/static/app.js"></script><link href="data:text/css,p{}" rel="stylesheet">'
    assert localize_html(html) == html


def test_fallback_on_package_and_file_name():
    assert resolve_url("https://cdn.jsdelivr.net/npm/leaflet@1.9.4/dist/leaflet.js") == "leaflet/dist/leaflet.js"
    assert resolve_url("https://code.jquery.com/jquery-3.7.2.min.js") == "jquery/dist/jquery.min.js"
    assert (
        resolve_url("https://unpkg.com/leaflet.markercluster@1.1.0/dist/MarkerCluster.Default.css")
        == "leaflet.markercluster/dist/MarkerCluster.Default.css"
    )
    assert resolve_url("https://cdn.jsdelivr.net/npm/leaflet@2.0.0/dist/leaflet.js") is None


def test_no_vendor_file_missing():
    assert missing_vendor_files() == []


def test_vendoring_is_idempotent():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "vendor_assets.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "up to date" in proc.stdout


CSS_URL = re.compile(r"""url\(\s*(["']?)([^"')]*)\1\s*\)""")


def test_css_url_references_resolve():
    css_files = sorted(VENDOR_DIR.rglob("*.css"))
    assert len(css_files) >= 10
    checked = 0
    for css in css_files:
        for _, url in CSS_URL.findall(css.read_text(encoding="utf-8")):
            if not url or url.startswith(("data:", "#")):
                continue
            assert not is_external(url), f"{css}: {url}"
            target = (css.parent / urlsplit(url).path).resolve()
            assert target.is_file(), f"{css.relative_to(VENDOR_DIR)}: {url}"
            assert VENDOR_DIR in target.parents, f"{css}: {url}"
            checked += 1
    assert checked >= 20  # fonts and images of Font Awesome, Glyphicons, Leaflet, Draw, ...


def test_generated_stylesheets():
    glyph = (VENDOR_DIR / "bootstrap3/dist/css/bootstrap-glyphicons.css").read_text()
    assert ".glyphicon-info-sign:before" in glyph  # folium.Icon() default
    assert "body" not in glyph and ".btn" not in glyph  # no Bootstrap 3 layout rules
    rotate = (VENDOR_DIR / "folium/leaflet.awesome.rotate.min.css").read_text()
    assert ".fa-rotate-0{" in rotate and ".fa-rotate-359{" in rotate
