/* gridgis map tiles (web/maps.py VectorTiles): Leaflet.VectorGrid layers over /tiles, styled
   from each feature's properties, with tooltips built as text (never parsed as HTML), a
   highlight on hover and a click that drills down or opens the feature's details. */
(function () {
  "use strict";
  // Leaflet 1.8 dropped L.DomEvent.fakeStop, which VectorGrid's canvas renderer calls on click
  if (!L.DomEvent.fakeStop) {
    L.DomEvent.fakeStop = function (e) { e._stopped = true; };
  }

  // VectorGrid's points are CircleMarkers without a latlng (they sit at tile pixels); Leaflet
  // 1.9 asks small markers for theirs on every mouse event. Give them the one they stand for.
  const markerLatLng = L.CircleMarker.prototype.getLatLng;
  L.CircleMarker.prototype.getLatLng = function () {
    const own = markerLatLng.call(this);
    const tile = this._renderer;
    if (own || !this._point || !tile || !tile.getCoord || !tile._map) return own;
    const c = tile.getCoord();
    return tile._map.unproject(L.point(c.x * tile._size.x, c.y * tile._size.y)
      .add(this._point), c.z);
  };

  // the class colour of a value: colours[i] for the first upper bound >= value
  function classColour(rule, props) {
    const v = props[rule.property];
    if (v === undefined || v === null || Number.isNaN(Number(v))) return rule.missing || "#cccccc";
    for (let i = 0; i < rule.breaks.length; i += 1) {
      if (Number(v) <= rule.breaks[i]) return rule.colours[i];
    }
    return rule.colours[rule.colours.length - 1];
  }

  function styleOf(spec, props) {
    const s = Object.assign({}, spec.style || {});
    if (spec.fill && spec.fill.property) {
      s.fillColor = spec.fill.breaks ? classColour(spec.fill, props)
        : (props[spec.fill.property] || spec.fill.missing || "#cccccc");
      s.fill = true;
    }
    if (spec.stroke && spec.stroke.property) {
      s.color = props[spec.stroke.property] || s.color;
    }
    if (spec.radius) {
      const n = Number(props.count || 1);
      s.radius = Math.min(spec.radius.max, spec.radius.min + Math.sqrt(n) * spec.radius.scale);
    }
    return s;
  }

  // a tooltip or popup body: one line per field, label and value as text nodes
  function details(spec, props, fields) {
    const box = document.createElement("div");
    box.className = "gg-tip";
    (fields || []).forEach(function (field) {
      const value = props[field[0]];
      if (value === undefined || value === null || value === "") return;
      const line = document.createElement("div");
      const label = document.createElement("b");
      label.textContent = field[1] + " ";
      line.appendChild(label);
      line.appendChild(document.createTextNode(String(value)));
      box.appendChild(line);
    });
    return box;
  }

  function drillUrl(spec, props) {
    const value = props[spec.drill.property];
    if (value === undefined || value === null || value === "") return null;
    return spec.drill.url.split(spec.drill.placeholder).join(encodeURIComponent(String(value)));
  }

  // window.gridgisDrawn: when every tile layer on the map has drawn its tiles (and the report
  // page, if any, has drawn its answer); benchmarks and tests read it
  const layers = [];
  function markDrawn() {
    const busy = layers.some(function (l) { return l._map && l._ggLoading; });
    if (!busy && !window.gridgisReportPending) window.gridgisDrawn = window.performance.now();
  }

  function layer(url, spec) {
    const styles = {};
    styles[spec.layer] = function (props) { return styleOf(spec, props); };
    const tiles = L.vectorGrid.protobuf(url, {
      // canvas is fast for polygons; an interactive canvas catches every event over its tiles,
      // so point layers above others draw as SVG (only what is painted catches the mouse) and
      // layers without tooltip, popup or drill-down are not interactive
      rendererFactory: spec.svg ? L.svg.tile : L.canvas.tile,
      vectorTileLayerStyles: styles,
      interactive: Boolean(spec.tooltip || spec.popup || spec.drill || spec.onDrill),
      getFeatureId: function (f) { return f.properties.gid; },
      minZoom: spec.minZoom || 0,
      maxNativeZoom: spec.maxNativeZoom || 18,
      maxZoom: spec.maxZoom === undefined ? 22 : spec.maxZoom,
      fetchOptions: {credentials: "same-origin"},
    });
    layers.push(tiles);
    tiles.on("loading", function () { tiles._ggLoading = true; delete window.gridgisDrawn; });
    tiles.on("load", function () { tiles._ggLoading = false; markDrawn(); });
    tiles.on("remove", function () { tiles._ggLoading = false; markDrawn(); });
    let tip = null;
    let lit = null;
    // where an event happened (events dispatched by scripts may come without latlng)
    function at(e) {
      if (e.latlng) return e.latlng;
      const map = tiles._map;
      return e.originalEvent ? map.mouseEventToLatLng(e.originalEvent) : map.getCenter();
    }
    tiles.on("mouseover", function (e) {
      const props = e.layer.properties || {};
      if (spec.highlight && props.gid !== undefined) {
        if (lit !== null) tiles.resetFeatureStyle(lit);
        lit = props.gid;
        tiles.setFeatureStyle(lit, Object.assign(styleOf(spec, props), spec.highlight));
      }
      if (spec.tooltip) {
        if (!tip) tip = L.tooltip({sticky: true, direction: "top", className: "gg-tooltip"});
        tip.setContent(details(spec, props, spec.tooltip)).setLatLng(at(e));
        tiles._map.openTooltip(tip);
      }
    });
    tiles.on("mouseout", function () {
      if (lit !== null) { tiles.resetFeatureStyle(lit); lit = null; }
      if (tip && tiles._map) tiles._map.closeTooltip(tip);
    });
    tiles.on("click", function (e) {
      const props = e.layer.properties || {};
      if (spec.onDrill) {  // the page handles it (e.g. without reloading)
        spec.onDrill(props);
        return;
      }
      if (spec.drill) {
        const target = drillUrl(spec, props);
        if (target) window.location.assign(target);
        return;
      }
      if (spec.popup) {
        L.popup().setLatLng(at(e)).setContent(details(spec, props, spec.popup))
          .openOn(tiles._map);
      }
    });
    return tiles;
  }

  window.gridgisTiles = {layer: layer, styleOf: styleOf, markDrawn: markDrawn};
  window.addEventListener("load", markDrawn);
})();
