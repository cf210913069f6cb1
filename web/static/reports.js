/* gridgis report pages (hot spots, rates): the page is a shell; its panel and map layers come
   from a JSON endpoint of /api/v1/analysis, asked with the page's URL parameters. Changing a
   filter or drilling down updates the URL (shareable, back/forward work) and the layers and
   tables without reloading the page. Every text from the server goes in as a text node. */
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("gg-page").textContent);
  const map = window.gridgisObjects[cfg.map];
  const form = document.querySelector("form.gg-filters");
  const status = document.getElementById("gg-status");
  let generation = 0;      // answers to an older request are dropped
  let resultLayer = null;
  const extra = {};        // per-page layers

  const {el, fill, setText} = window.gridgisDom;

  function fmt(v, digits) {
    if (v === null || v === undefined || Number.isNaN(Number(v))) return "—";
    return digits === undefined ? Number(v).toLocaleString("en-US")
      : Number(v).toFixed(digits);
  }

  // the page's parameters: the URL's, or the form's when it is submitted
  function params() { return new URLSearchParams(window.location.search); }

  function formParams() {
    const out = new URLSearchParams();
    new FormData(form).forEach(function (value, key) {
      if (String(value) !== "") out.set(key, String(value));
    });
    return out;
  }

  function syncForm(p) {
    Array.from(form.elements).forEach(function (input) {
      if (!input.name) return;
      input.value = p.get(input.name) || (input.dataset.default || "");
    });
  }

  function pageUrl(p) {
    const q = p.toString();
    return cfg.page_url + (q ? "?" + q : "");
  }

  function navigate(p) {
    window.history.pushState(null, "", pageUrl(p));
    syncForm(p);
    load();
  }

  function showError(problem) {
    const msg = (problem && problem.error && problem.error.message) || "请求失败 Request failed";
    status.className = "gg-warning";
    status.textContent = msg;
  }

  function legend(rows, title) {
    const nodes = [el("div", {class: "gg-legend-title", text: title})];
    rows.forEach(function (r) {
      nodes.push(el("div", {}, [el("span", {class: "gg-swatch", style: {background: r.colour}}),
        " " + r.label]));
    });
    return nodes;
  }

  function exportLinks(p) {
    document.querySelectorAll("[data-export]").forEach(function (a) {
      const q = new URLSearchParams(p);
      const keep = JSON.parse(a.dataset.keep || "[]");
      ["level", "measure", "bandwidth", "inference"].forEach(function (k) {
        if (keep.indexOf(k) < 0) q.delete(k);
      });
      Object.entries(JSON.parse(a.dataset.export)).forEach(function ([k, v]) { q.set(k, v); });
      a.href = a.dataset.base + "?" + q.toString();
    });
  }

  function tileUrl(template, result) {
    return template + (template.indexOf("?") >= 0 ? "&" : "?") + "result=" +
      encodeURIComponent(result);
  }

  // one result layer at a time, drawn from the tiles of the answer's level
  const control = cfg.control ? window.gridgisObjects[cfg.control] : null;

  function showResult(spec, template, result, name) {
    const url = tileUrl(template, result);
    if (resultLayer && resultLayer._gg === spec.layer) {
      resultLayer.setUrl(url);
      return resultLayer;
    }
    if (resultLayer) {
      map.removeLayer(resultLayer);
      if (control) control.removeLayer(resultLayer);
    }
    resultLayer = window.gridgisTiles.layer(url, spec);
    resultLayer._gg = spec.layer;
    resultLayer.addTo(map);
    if (control && name) control.addOverlay(resultLayer, name);
    return resultLayer;
  }

  function fitTo(bounds) {
    if (bounds && bounds.length === 4) {
      map.fitBounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]]);
    }
  }

  // --- rates -------------------------------------------------------------------------------
  function drillParams(p, level, unit) {
    const q = new URLSearchParams(p);
    q.set("level", level);
    if (unit) q.set("unit", unit); else q.delete("unit");
    return q;
  }

  function drillLink(p, level, unit, label) {
    const q = drillParams(p, level, unit);
    const a = el("a", {class: "gg-drill", href: pageUrl(q), text: label});
    a.addEventListener("click", function (e) { e.preventDefault(); navigate(q); });
    return a;
  }

  function renderRates(r, p) {
    setText("stat-incidents", fmt(r.incidents));
    setText("stat-units", fmt(r.units));
    const levelName = cfg.level_labels[r.level];
    setText("gg-level-title", levelName ? levelName.join(" ") : r.level);
    fill("gg-legend", legend(r.legend, "图例 Legend: " + r.caption));
    const t = r.totals || {};
    setText("gg-total-found", fmt(t.found));
    setText("gg-total-resolved", fmt(t.resolved));
    setText("gg-total-rate", t.resolution_rate === null || t.resolution_rate === undefined
      ? "—" : (100 * t.resolution_rate).toFixed(1));
    setText("gg-total-overdue", fmt(t.overdue));
    const up = document.getElementById("gg-up-box");
    up.replaceChildren();
    if (r.up) {
      const a = drillLink(p, r.up.level, r.up.unit, "↑ 上一级 Up one level");
      a.id = "gg-up";
      a.className = "";
      up.appendChild(a);
    }
    const rows = r.rows.map(function (u) {
      const name = r.child ? drillLink(p, r.child, u.code, u.name) : document.createTextNode(u.name);
      return el("tr", {"data-code": u.code}, [
        el("td", {}, [name, el("br"), el("small", {text: u.code})]),
        el("td", {text: fmt(u.incidents)}), el("td", {text: fmt(u.households)}),
        el("td", {text: fmt(u.rate, 2)}), el("td", {text: fmt(u.resolution_pct, 1)}),
        el("td", {text: fmt(u.overdue)})]);
    });
    fill("gg-rates-rows", rows);
    setText("gg-rows-note", r.rows_total > r.rows.length
      ? "表中列出前 " + r.rows.length + " 个（共 " + r.rows_total + "）The first " +
        r.rows.length + " of " + r.rows_total + " are listed; the CSV has all." : "");
    const layerCfg = cfg.layers[r.level];
    const spec = Object.assign({}, layerCfg.spec);
    if (r.child) {
      spec.drill = {property: "code", url: "", placeholder: "__code__"};
      spec.onDrill = function (props) { navigate(drillParams(p, r.child, props.code)); };
    }
    showResult(spec, layerCfg.tiles, r.result, levelName ? levelName.join(" ") : r.level);
    setText("gg-zoom-hint", layerCfg.spec.minZoom && map.getZoom() < layerCfg.spec.minZoom
      ? "放大到 " + layerCfg.spec.minZoom + " 级以显示网格 Zoom in to level " +
        layerCfg.spec.minZoom + " to see the grids" : "");
    if (p.get("unit")) fitTo(r.bounds);
  }

  const renderers = {rates: renderRates};

  function load() {
    const p = params();
    const mine = ++generation;
    window.gridgisReportPending = true;
    delete window.gridgisDrawn;
    status.className = "gg-hint";
    status.textContent = "计算中… Computing…";
    exportLinks(p);
    fetch(cfg.api + "?" + p.toString(), {credentials: "same-origin",
                                         headers: {Accept: "application/json"}})
      .then(function (res) {
        return res.json().catch(function () { return {}; }).then(function (body) {
          if (mine !== generation) return;
          if (!res.ok) {
            showError(body);
            window.gridgisReportPending = false;
            window.gridgisTiles.markDrawn();
            return;
          }
          renderers[cfg.page](body, p, extra);
          status.className = "gg-hint";
          status.textContent = (body.stale
            ? "服务器繁忙，显示较早结果 Server busy: an earlier result (" + body.stale_since + ")"
            : (body.cached ? "缓存结果 Cached result" : "已计算 Computed")) +
            " · " + fmt(body.computed_s, 2) + " s" + (body.as_of ? " · " + body.as_of : "");
          document.body.dataset.loaded = String(mine);
          window.gridgisReportPending = body.result === null;  // a refinement still running
          window.gridgisTiles.markDrawn();
        });
      })
      .catch(function (err) {
        if (mine === generation) showError(null);
        window.console.error(err);
      });
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    const p = formParams();
    const keep = params();
    (cfg.keep || []).forEach(function (k) { if (keep.get(k) && !p.get(k)) p.set(k, keep.get(k)); });
    navigate(p);
  });
  window.addEventListener("popstate", function () { syncForm(params()); load(); });
  map.on("zoomend", function () {
    const hint = document.getElementById("gg-zoom-hint");
    if (!hint || !resultLayer) return;
    const minZoom = resultLayer.options.minZoom || 0;
    hint.textContent = map.getZoom() < minZoom ? "放大到 " + minZoom +
      " 级以显示网格 Zoom in to level " + minZoom + " to see the grids" : "";
  });
  window.gridgisReport = {renderers: renderers, el: el, fill: fill, setText: setText, fmt: fmt,
                          legend: legend, showResult: showResult, load: load, map: map,
                          cfg: cfg, extra: extra, navigate: navigate, params: params};
  // after every deferred page script has registered its renderer
  document.addEventListener("DOMContentLoaded", load);
})();
