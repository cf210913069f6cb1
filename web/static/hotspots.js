/* gridgis hot-spot page: draws /api/v1/analysis/hotspots answers (web/static/reports.js asks
   for them): kernel density bands, a heat layer with a weekly slider, Gi* grids from tiles,
   the method and the strongest hot grids; the permutation refinement runs in the background
   and its progress shows until the refined answer replaces the analytic one. */
(function () {
  "use strict";
  const R = window.gridgisReport;
  const cfg = R.cfg;
  const control = window.gridgisObjects[cfg.control];
  const el = R.el;
  let density = null;
  let heat = null;
  let heatData = null;
  let polling = null;

  function textTip(text) {
    const span = document.createElement("span");
    span.textContent = text;
    return span;
  }

  function drawDensity(d) {
    if (density) { control.removeLayer(density); R.map.removeLayer(density); }
    density = L.geoJSON(d.features, {
      style: function (f) {
        return {fillColor: f.properties.colour, color: f.properties.colour, weight: 0.5,
                fillOpacity: 0.55};
      },
      interactive: true,
      onEachFeature: function (f, layer) {
        layer.bindTooltip(textTip("事件/平方公里 Incidents per km²: " + f.properties.label),
                          {sticky: true});
      },
    });
    density.addTo(R.map);
    density.bringToBack();
    control.addOverlay(density, "核密度 Kernel density");
    R.fill("gg-density-legend", R.legend(d.legend,
      "核密度 Kernel density (事件/平方公里 incidents per km²)"));
  }

  function weekPoints(week) {
    return heatData.points.filter(function (p) { return week === null || p[2] === week; })
      .map(function (p) { return [p[0], p[1]]; });
  }

  function drawHeat(h, total) {
    heatData = h;
    const pts = weekPoints(null);
    if (!heat) {
      heat = L.heatLayer(pts, {radius: 14, blur: 18, minOpacity: 0.3,
                               gradient: cfg.heat_gradient});
      control.addOverlay(heat, "热力图 Heat map");
    } else {
      heat.setLatLngs(pts);
    }
    R.setText("gg-heat-note", "热力图与按周视图使用 " + pts.length.toLocaleString("en-US") +
      " / " + total.toLocaleString("en-US") + " 起事件的固定样本 The heat map and weekly view " +
      "use a fixed sample; density and Gi* use every incident.");
    const slider = document.getElementById("gg-week");
    const on = document.getElementById("gg-week-on");
    slider.max = String(Math.max(h.weeks.length - 1, 0));
    slider.value = slider.max;
    slider.disabled = !on.checked || !h.weeks.length;
    showWeek();
  }

  function showWeek() {
    if (!heatData) return;
    const slider = document.getElementById("gg-week");
    const on = document.getElementById("gg-week-on");
    slider.disabled = !on.checked || !heatData.weeks.length;
    const week = on.checked && heatData.weeks.length ? Number(slider.value) : null;
    heat.setLatLngs(weekPoints(week));
    R.setText("gg-week-label", week === null ? "全部 All weeks"
      : "周 Week of " + heatData.weeks[week]);
    if (on.checked && !R.map.hasLayer(heat)) heat.addTo(R.map);
  }

  function methodTable(method) {
    const rows = [];
    Object.entries(method).forEach(function ([k, v]) {
      if (k.indexOf("description") === 0 || (v && typeof v === "object" && !Array.isArray(v))) {
        return;
      }
      rows.push(el("tr", {}, [el("th", {text: k}),
        el("td", {text: Array.isArray(v) ? v.join(", ") : v})]));
    });
    return rows;
  }

  function refineState(r) {
    const box = document.getElementById("gg-refine-state");
    const bar = document.getElementById("gg-refine-progress");
    const button = document.getElementById("gg-refine");
    const s = r.refinement || {state: "none"};
    const shown = r.method ? r.method.inference : null;
    button.hidden = shown === "permutation" || s.state === "done";
    bar.hidden = !(s.state === "running" || s.state === "queued");
    bar.value = s.progress || 0;
    box.textContent = {
      none: "", done: shown === "permutation" ? "" : "置换检验结果已就绪 Permutation result ready",
      queued: "排队中 Queued…", running: "置换检验计算中 Computing permutations…",
      failed: "置换检验失败 Refinement failed: " + (s.error || ""),
    }[s.state] || "";
  }

  function poll(p) {
    window.clearTimeout(polling);
    const q = new URLSearchParams(p);
    q.set("inference", "permutation");
    fetch(cfg.api + "?" + q.toString(), {credentials: "same-origin",
                                         headers: {Accept: "application/json"}})
      .then(function (res) { return res.json().then(function (body) { return [res, body]; }); })
      .then(function ([res, body]) {
        if (res.status === 202) {
          refineState({refinement: body, method: null});
          polling = window.setTimeout(function () { poll(p); }, 1000);
        } else if (res.ok) {
          R.navigate(q);
        } else {
          refineState({refinement: {state: "failed", error: (body.error && body.error.message) || ""}, method: null});
        }
      });
  }

  function renderHotspots(r, p) {
    window.clearTimeout(polling);
    if (r.result === null) {  // a refinement still running: poll, keep what is drawn
      refineState({refinement: r.refinement, method: null});
      polling = window.setTimeout(function () { poll(p); }, 1000);
      return;
    }
    R.setText("stat-incidents", R.fmt(r.incidents));
    R.setText("stat-grids", R.fmt(r.grids));
    R.setText("stat-hot", r.hot);
    R.fill("gg-legend", R.legend(r.legend, "图例 Legend: 热点/冷点 Hot and cold spots (Gi*)"));
    drawDensity(r.density);
    drawHeat(r.heat, r.heat_of);
    const warn = document.getElementById("gg-insufficient");
    warn.hidden = !r.message;
    warn.replaceChildren();
    if (r.message) {
      warn.append(r.message.message_zh || "", el("br"), r.message.message_en || "");
    }
    document.getElementById("gg-method").hidden = !r.method;
    document.getElementById("gg-hot-box").hidden = !r.method;
    const layerCfg = cfg.layers.grid;
    R.showResult(layerCfg.spec, layerCfg.tiles, r.result, layerCfg.name);
    if (r.method) {
      R.setText("gg-inference", "p 值 p-values: " + r.method.inference_zh + " · " +
        r.method.inference_en);
      R.setText("gg-method-zh", r.method.description_zh || "");
      R.setText("gg-method-en", r.method.description_en || "");
      R.fill("gg-method-table", methodTable(r.method));
      R.fill("gg-hot-rows", r.hot_rows.map(function (h) {
        return el("tr", {"data-code": h.code}, [
          el("td", {}, [h.code, el("br"), el("small", {text: h.name})]),
          el("td", {text: h.parent_name}), el("td", {text: R.fmt(h.incidents)}),
          el("td", {text: R.fmt(h.z, 2)}),
          el("td", {}, [h.label_zh, el("br"), el("small", {text: h.label_en})])]);
      }));
      R.setText("gg-hot-note", r.hot > r.hot_rows.length ? "表中列出前 " + r.hot_rows.length +
        " 个 The " + r.hot_rows.length + " strongest are listed." : "");
    }
    refineState(r);
    const button = document.getElementById("gg-refine");
    button.onclick = function () {
      refineState({refinement: {state: "queued"}, method: null});
      poll(p);
    };
    if (r.refinement && (r.refinement.state === "running" || r.refinement.state === "queued")) {
      polling = window.setTimeout(function () { poll(p); }, 1000);
    }
    if (p.get("unit")) {
      const b = r.bounds;
      if (b) R.map.fitBounds([[b[1], b[0]], [b[3], b[2]]]);
    }
  }

  document.getElementById("gg-week-on").addEventListener("change", showWeek);
  document.getElementById("gg-week").addEventListener("input", showWeek);
  R.renderers.hotspots = renderHotspots;
})();
