/* gridgis planners' pages (web/planner_maps.py, templates/planner.html).
 *
 * /maps/plans:      open a new draft (POST /api/v1/plans) and go to its map.
 * /maps/plans/<id>: edit the draft through /api/v1/plans/<id>/...; every answer updates the grid
 *                   layer, the selection, the metrics and the problem list without a reload.
 *
 * Plain script, no build step. Configuration comes from <script id="gg-config">. */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("gg-config").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);

  /* ---- helpers ---- */

  // A DOM element with attributes ("on..." are listeners) and children (text or nodes).
  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (value !== null && value !== undefined) node.setAttribute(key, value);
    }
    node.append(...children.flat().filter((c) => c !== null && c !== undefined)
      .map((c) => (c instanceof Node ? c : String(c))));
    return node;
  }

  function say(text, kind) {
    $("gg-message").textContent = text;
    $("gg-message").className = "gg-message" + (kind ? " gg-" + kind : "");
  }

  function num(value, digits) {
    if (value === null || value === undefined) return "—";
    return Number(value).toLocaleString("en-US", {maximumFractionDigits: digits || 0});
  }

  // fetch() as JSON; a refusal throws an Error carrying the status and the error body.
  async function api(method, url, body) {
    const options = {method, credentials: "same-origin", headers: {Accept: "application/json"}};
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.headers["X-CSRFToken"] = csrf;
      options.body = JSON.stringify(body);
    }
    const res = await fetch(url, options);
    const data = await res.json().catch(() => ({}));
    if (!res.ok) {
      const err = new Error((data.error && data.error.message) ||
                            `${res.status} ${res.statusText}`);
      err.status = res.status;
      err.body = data;
      throw err;
    }
    return data;
  }

  /* ---- list page: open a new draft ---- */

  const newPlan = $("gg-new-plan");
  if (newPlan) {
    newPlan.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = Object.fromEntries(new FormData(newPlan));
      if (!body.note) delete body.note;
      try {
        const answer = await api("POST", config.api, body);
        window.location.assign(`${config.page}/${answer.draft.id}`);
      } catch (err) {
        say(err.message, "error");
      }
    });
    return;
  }

  /* ---- draft page ---- */

  const map = window[config.map];
  const drawn = window[config.drawn];          // Leaflet.draw's feature group
  const base = config.api;                     // /api/v1/plans/<id>
  const targets = config.targets;
  const query = `?min=${targets.min}&max=${targets.max}`;
  const OP_LABELS = {
    split_by_line: "分割 Split", split_equal: "等分 Split into k", merge: "合并 Merge",
    retire: "撤除 Retire", reshape: "重划 Reshape", add_grid: "新增 Add grid",
    move_area: "划转 Move area", undo: "撤销 Undo", redo: "重做 Redo",
    renumber: "重新编号 Renumber", accept_proposal: "采纳建议 Accept proposal",
  };

  let draft = config.draft;
  let grids = new Map(config.grids.features.map((f) => [f.id, f]));
  let selected = [];             // grid codes; the first is the one edited
  let gridLayer = null;          // the draft's grids, replaced after every answer
  let preview = null;            // a proposal or the compared active grids
  let pin = null;                // "zoom to" marker
  let busy = false;

  map.createPane("gg-grids").style.zIndex = 350;   // under the unit outlines and drawings

  function colour(households) {
    const [farLow, low, within, high, farHigh] = config.colours;
    if (households < 0.75 * targets.min) return farLow;
    if (households < targets.min) return low;
    if (households <= targets.max) return within;
    return households <= 1.25 * targets.max ? high : farHigh;
  }

  function style(feature) {
    const rank = selected.indexOf(feature.id);
    return {
      fillColor: colour(feature.properties.households), fillOpacity: 0.65,
      color: rank === 0 ? "#000000" : rank > 0 ? "#e66101" : "#555555",
      weight: rank >= 0 ? 4 : 1, dashArray: rank > 0 ? "8 4" : null,
    };
  }

  function drawGrids() {
    if (gridLayer) map.removeLayer(gridLayer);
    const features = [...grids.values()];
    gridLayer = L.geoJSON({type: "FeatureCollection", features}, {
      pane: "gg-grids",
      style,
      onEachFeature(feature, layer) {
        const p = feature.properties;
        layer.bindTooltip(h("span", {}, h("b", {}, feature.id), ` ${p.name || ""} · `,
                            `${p.households} 户 households`), {sticky: true});
        layer.on("click", (event) => select(feature.id, event.originalEvent.shiftKey));
      },
    }).addTo(map);
    $("gg-grid-count").textContent = grids.size;
  }

  // A click selects one grid; a shift-click adds a grid to the selection or takes it out.
  function select(code, add) {
    if (!add) selected = [code];
    else if (selected.includes(code)) selected = selected.filter((c) => c !== code);
    else selected = [...selected, code];
    showSelection();
  }

  function showSelection() {
    selected = selected.filter((code) => grids.has(code));
    gridLayer.setStyle(style);
    const items = selected.map((code, i) => {
      const p = grids.get(code).properties;
      return h("li", {"data-code": code}, h("b", {}, code), ` ${p.name || ""} · `,
               `${num(p.households)} 户 households · ${num(p.population)} 人 people`,
               i === 1 ? " (第二个 second)" : "");
    });
    const clear = h("a", {href: "#", onclick: (event) => {
      event.preventDefault();
      selected = [];
      showSelection();
    }}, "清除选择 Clear selection");
    $("gg-selection").replaceChildren(...(items.length ? [h("ol", {}, items), clear] : ["—"]));
  }

  function drawnGeometry(type) {
    let geometry = null;
    drawn.eachLayer((layer) => {
      const g = layer.toGeoJSON().geometry;
      if (g.type === type) geometry = g;
    });
    return geometry;
  }

  function showDrawn() {
    const kinds = [];
    drawn.eachLayer((layer) => kinds.push(layer.toGeoJSON().geometry.type === "LineString"
      ? "线 line" : "面 polygon"));
    $("gg-drawn").textContent = kinds.join(", ") || "—";
  }

  // Keep one drawn shape at a time (Leaflet.draw's handler has added the new one already).
  map.on(L.Draw.Event.CREATED, (event) => {
    drawn.eachLayer((layer) => { if (layer !== event.layer) drawn.removeLayer(layer); });
    showDrawn();
  });
  map.on(`${L.Draw.Event.EDITED} ${L.Draw.Event.DELETED}`, showDrawn);

  function clearPreview() {
    if (preview) map.removeLayer(preview);
    preview = null;
  }

  function zoomTo(lon, lat) {
    if (pin) map.removeLayer(pin);
    pin = L.circleMarker([lat, lon], {radius: 9, color: "#d62728", weight: 3, fill: false})
      .addTo(map);
    map.setView([lat, lon], Math.max(map.getZoom(), 14));
  }

  function showDraft() {
    $("gg-version").textContent = draft.version;
    $("gg-status").textContent = draft.status;
    const open = draft.status === "open";
    for (const button of document.querySelectorAll("#gg-actions button")) {
      const action = button.dataset.action;
      button.disabled = !open && action !== "compare"
        || (action === "undo" && !draft.undo_steps) || (action === "redo" && !draft.redo_steps);
    }
  }

  const METRICS = [
    ["grids", "网格数 Grids", 0], ["households_total", "总户数 Households", 0],
    ["households_min", "最少 Min", 0], ["households_max", "最多 Max", 0],
    ["households_mean", "平均 Mean", 1], ["households_std", "标准差 Std dev", 1],
    ["households_within_range_share", "目标范围内 Within target", 1],
    ["compactness_mean", "平均紧凑度 Compactness mean", 3],
    ["compactness_min", "最小紧凑度 Compactness min", 3],
  ];

  function metricText(key, value, digits) {
    if (key === "households_within_range_share" && value !== null && value !== undefined) {
      return `${num(100 * value, 1)} %`;
    }
    return num(value, digits);
  }

  function showMetrics(metrics) {
    $("gg-metrics").replaceChildren(...METRICS.map(([key, label, digits]) => h("tr", {},
      h("th", {}, label), h("td", {"data-metric": key}, metricText(key, metrics[key], digits)))));
  }

  function showProblems(problems) {
    const errors = problems.filter((p) => p.severity === "error").length;
    $("gg-problem-count").textContent =
      `(${errors} 错误 errors, ${problems.length - errors} 警告 warnings)`;
    $("gg-problems").replaceChildren(...problems.map((p) => h("li", {
      class: `gg-sev-${p.severity}`},
      h("b", {}, p.severity === "error" ? "错误 error" : "警告 warning"), ` ${p.rule} · `,
      h("code", {}, p.code), ` ${p.message} `,
      p.lon === null || p.lon === undefined ? null : h("a", {
        href: "#", class: "gg-zoom",
        onclick: (event) => { event.preventDefault(); zoomTo(p.lon, p.lat); },
      }, "定位 Zoom to"))));
  }

  async function refreshChecks() {
    const check = await api("GET", `${base}/checks${query}`);
    showProblems(check.problems);
    showMetrics(check.metrics);
  }

  async function reload() {
    const detail = await api("GET", base);
    draft = detail.draft;
    grids = new Map(detail.grids.features.map((f) => [f.id, f]));
    clearPreview();
    drawGrids();
    showSelection();
    showDraft();
    await refreshChecks();
  }

  /* ---- edits ---- */

  function one() {
    if (!selected.length) throw new Error("请先点击选择一个网格 Click a grid to select it first");
    return selected[0];
  }

  function two() {
    if (selected.length < 2) {
      throw new Error("请 Shift+点击再选一个网格 Shift-click a second grid first");
    }
    return selected;
  }

  function shape(type) {
    const geometry = drawnGeometry(type);
    if (!geometry) {
      throw new Error(type === "LineString"
        ? "请先用工具栏画一条线 Draw a line with the toolbar first"
        : "请先用工具栏画一个面 Draw a polygon with the toolbar first");
    }
    return geometry;
  }

  async function edit(body) {
    const answer = await api("POST", `${base}/edits${query}`, {...body, version: draft.version});
    for (const code of answer.removed) grids.delete(code);
    for (const feature of answer.grids.features) grids.set(feature.id, feature);
    draft = answer.draft;
    drawn.clearLayers();
    showDrawn();
    clearPreview();
    $("gg-proposal").replaceChildren();
    drawGrids();
    showSelection();
    showDraft();
    showMetrics(answer.metrics);
    const c = answer.check;
    $("gg-live").textContent = `本次修改检查 This edit's check: ${c.errors} 错误 errors, ` +
      `${c.warnings} 警告 warnings`;
    const parts = [["+", answer.added], ["−", answer.removed], ["~", answer.changed]]
      .filter(([, codes]) => codes.length).map(([sign, codes]) => sign + codes.join(", "));
    say(`${answer.steps.map((op) => OP_LABELS[op] || op).join(", ")} ✓ ` +
        `版本 version ${answer.version} ${parts.join(" ")}`, "ok");
    await refreshChecks();
  }

  // A proposal for the selected grid, or with none selected for the draft's only leaf unit.
  async function propose() {
    let target = selected.length ? {code: selected[0]} : null;
    if (!target && config.units.length === 1) target = {unit: config.units[0]};
    if (!target) one();   // throws "select a grid first"
    const answer = await api("POST", `${base}/proposals${query}`, target);
    const where = target.code || target.unit;
    clearPreview();
    if (!answer.added.length && !answer.removed.length && !answer.changed.length) {
      $("gg-proposal").replaceChildren();
      say(`${where}: 无需调整 the proposal changes nothing (${answer.k} 个网格 grid(s))`, "ok");
      return;
    }
    preview = L.geoJSON(answer.grids, {interactive: false, style: {
      color: "#e66101", weight: 3, dashArray: "6 4", fill: false}}).addTo(map);
    const m = answer.metrics.proposal;
    $("gg-proposal").replaceChildren(h("div", {class: "gg-legend-block"},
      h("b", {}, `建议 Proposal for ${where}: ${answer.k} 个网格 grids`), h("br"),
      `户数 Households ${num(m.households_min)} – ${num(m.households_max)}, `,
      `目标范围内 within target ${num(100 * (m.households_within_range_share || 0), 1)} %, `,
      `${answer.check.errors} 错误 errors`, h("br"),
      h("button", {type: "button", onclick: () => run(() => edit(
        {op: "accept_proposal", ...target, k: answer.k}))}, "采纳建议 Accept proposal"),
      h("button", {type: "button", onclick: () => {
        clearPreview();
        $("gg-proposal").replaceChildren();
      }}, "放弃 Dismiss")));
    say("橙色虚线为建议网格 The proposal is drawn in dashed orange", "ok");
  }

  async function compare() {
    const c = await api("GET", `${base}/compare${query}`);
    clearPreview();
    preview = L.geoJSON(c.before, {interactive: false, style: {
      color: "#6a3d9a", weight: 2, dashArray: "2 4", fill: false}}).addTo(map);
    const rows = METRICS.map(([key, label, digits]) => h("tr", {"data-metric": key},
      h("th", {}, label), ...["active", "draft", "difference"].map((which) =>
        h("td", {}, metricText(key, c.metrics[which][key], digits)))));
    const i = c.incidents;
    const changes = c.changes.features.map(({properties: p}) => h("tr", {},
      h("td", {}, p.code), h("td", {}, p.change),
      h("td", {}, `${num(p.households_active)} → ${num(p.households_draft)}`),
      h("td", {}, `${num(p.incidents_active)} → ${num(p.incidents_draft)}`)));
    $("gg-compare").replaceChildren(
      h("h2", {}, `对比现行版本 Compared with the active generation ${c.generation_id}`),
      h("p", {}, `新增 Added ${c.counts.added} · 撤除 Removed ${c.counts.removed} · ` +
                 `变更 Changed ${c.counts.changed} (紫色虚线为现行网格 active grids in dotted purple)`),
      h("table", {class: "gg-table", id: "gg-compare-metrics"},
        h("tr", {}, h("th", {}, "指标 Metric"), h("th", {}, "现行 Active"), h("th", {}, "草案 Draft"),
          h("th", {}, "差值 Difference")), rows),
      h("h2", {}, "历史事件重新归集 Re-aggregation of past incidents"),
      h("table", {class: "gg-table", id: "gg-reaggregation"}, [
        ["total", "单元内事件 Incidents in the unit"],
        ["change_grid", "改变所属网格 Would change grid"],
        ["uncovered_active", "现行未覆盖 Uncovered now"],
        ["uncovered_draft", "草案未覆盖 Uncovered under the draft"],
        ["recorded_elsewhere", "原记录在其他版本网格 Recorded under another grid"],
      ].map(([key, label]) => h("tr", {}, h("th", {}, label),
        h("td", {"data-count": key}, num(i[key]))))),
      changes.length ? h("table", {class: "gg-table", id: "gg-compare-grids"},
        h("tr", {}, h("th", {}, "网格 Grid"), h("th", {}, "变化 Change"),
          h("th", {}, "户数 Households"), h("th", {}, "事件 Incidents")), changes) : null);
    $("gg-compare").scrollIntoView();
  }

  async function publish() {
    const question = `发布草案“${draft.name}”为新的现行版本？\n` +
      `Publish draft "${draft.name}" (version ${draft.version}) as the new active generation?`;
    if (!window.confirm(question)) {
      say("未发布 Not published");
      return;
    }
    const r = await api("POST", `${base}/publish`, {version: draft.version});
    draft = r.draft;
    showDraft();
    $("gg-active-generation").textContent = r.generation_id;
    $("gg-published").replaceChildren(h("p", {class: "gg-ok", id: "gg-new-generation"},
      `已发布：新的现行版本 Published: the new active generation is `,
      h("b", {}, r.generation_id), ` (原 previous ${r.previous_generation_id}; ` +
      `${r.warnings} 警告 warnings)`));
    say("发布成功 Published", "ok");
  }

  const ACTIONS = {
    split_by_line: () => edit({op: "split_by_line", code: one(), line: shape("LineString")}),
    split_equal: () => edit({op: "split_equal", code: one(), k: Number($("gg-k").value)}),
    merge: () => edit({op: "merge", codes: two()}),
    retire: () => edit({op: "retire", code: one()}),
    reshape: () => edit({op: "reshape", code: one(), outline: shape("Polygon")}),
    add_grid: () => edit({op: "add_grid", outline: shape("Polygon")}),
    move_area: () => {
      const [code, to] = two();
      return edit({op: "move_area", code, to, area: shape("Polygon")});
    },
    renumber: () => edit({op: "renumber"}),
    undo: () => edit({op: "undo"}),
    redo: () => edit({op: "redo"}),
    propose,
    compare,
    publish,
  };

  // Run one action at a time; a 409 (someone saved meanwhile) reloads the draft.
  async function run(action) {
    if (busy) return;
    busy = true;
    document.body.classList.add("gg-busy");
    try {
      await action();
    } catch (err) {
      if (err.status === 409) {
        say(`${err.message} — 已重新载入草案 The draft was reloaded.`, "error");
        await reload().catch((e) => say(e.message, "error"));
      } else {
        say(err.message, "error");
        const details = err.body && err.body.error && err.body.error.details;
        if (Array.isArray(details) && details.length && details[0].rule) showProblems(details);
      }
    } finally {
      busy = false;
      document.body.classList.remove("gg-busy");
    }
  }

  for (const button of document.querySelectorAll("#gg-actions button")) {
    button.addEventListener("click", () => run(ACTIONS[button.dataset.action]));
  }

  window.ggPlanner = {map};   // for tests and the browser console
  drawGrids();
  showSelection();
  showDraft();
  run(refreshChecks);
})();
