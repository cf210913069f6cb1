/* gridgis coverage tabs (staffing, cameras, response areas, blind spots): the page is a shell;
   its figures, legend, notes and per-unit table come from /api/v1/coverage/<theme>/map, and
   the grid and village classes (and the stored blind-spot shapes) from tiles that carry the
   answer's values (?result=). Changing the level updates the URL and the table without
   reloading the page. Every text from the server goes in as a text node. The script runs
   before the map's (the answer is asked for before the map asks for its tiles) and draws once
   the page is parsed. */
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("gg-page").textContent);
  let objects, map, control, status, form;
  const shown = {};     // the result layers by role: grid, village, shape kinds
  let generation = 0;   // answers to an older request are dropped

  const {el, fill, setText} = window.gridgisDom;

  function level() {
    const p = new URLSearchParams(window.location.search);
    return p.get("level") || cfg.level || "township";
  }

  function tileUrl(template, result) {
    return template + (template.indexOf("?") >= 0 ? "&" : "?") + "result=" +
      encodeURIComponent(result);
  }

  function showLayer(role, def, result) {
    const url = tileUrl(def.tiles, result);
    const have = shown[role];
    if (have) {
      if (have._ggUrl !== url) { have._ggUrl = url; have.setUrl(url); }
      return;
    }
    const layer = window.gridgisTiles.layer(url, def.spec);
    layer._ggUrl = url;
    if (def.z) layer.setZIndex(def.z);
    layer.addTo(map);
    control.addOverlay(layer, def.name);
    shown[role] = layer;
  }

  function legendRows(rows) {
    return rows.map(function (r) {
      return el("div", {}, [el("span", {class: "gg-swatch", style: {background: r.colour}}),
        " " + r.label]);
    });
  }

  function render(r) {
    fill("gg-figures", [].concat.apply([], r.stats.map(function (s) {
      return [el("dt", {text: s.label}), el("dd", {id: s.id, text: s.value})];
    })));
    fill("gg-notes", r.notes.map(function (n) {
      return el("p", {class: "gg-hint gg-method", text: n});
    }));
    fill("gg-legend-classes", [el("div", {}, [el("b", {text: "网格 Grids"})])]
      .concat(legendRows(r.legend))
      .concat([el("div", {}, [el("b", {text: r.village_caption})])])
      .concat(legendRows(r.village_legend)));
    setText("gg-level-title", r.level === "village" ? "各村/社区 Per village"
      : "各乡镇/街道 Per township");
    const table = document.getElementById("gg-unit-table");
    const head = el("thead", {}, [el("tr", {}, r.columns.map(function (c) {
      return el("th", {text: c[1]});
    }))]);
    const body = el("tbody", {}, r.rows.map(function (row) {
      return el("tr", {}, row.map(function (cell) { return el("td", {text: cell}); }));
    }));
    table.replaceChildren(head, body);
    setText("gg-rows-note", r.rows_total > r.rows.length
      ? "表中列出前 " + r.rows.length + " 个（共 " + r.rows_total + "）The first " +
        r.rows.length + " of " + r.rows_total + " are listed; the CSV has all." : "");
    const csv = document.getElementById("gg-table-csv");
    if (csv) csv.href = cfg.csv + "?" + new URLSearchParams({level: r.level, format: "csv"});
    showLayer("village", cfg.village, r.villages);
    showLayer("grid", cfg.grid, r.result);
    cfg.shapes.forEach(function (def) {
      if (r.shapes.indexOf(def.kind) >= 0) showLayer(def.kind, def, r.result);
    });
  }

  function showError(problem) {
    const error = problem && problem.error;
    status.className = "gg-warning";
    status.textContent = (error && error.message) || "请求失败 Request failed";
  }

  function request(lvl) {
    const q = new URLSearchParams({level: lvl});
    const root = new URLSearchParams(window.location.search).get("root");
    if (root) q.set("root", root);  // an administrator's chosen city
    return fetch(cfg.api + "?" + q,
                 {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (res) {
        return res.json().catch(function () { return {}; })
          .then(function (body) { return {res: res, body: body}; });
      });
  }

  function settled() {
    window.gridgisReportPending = false;
    if (window.gridgisTiles) window.gridgisTiles.markDrawn();
  }

  function show(pending) {
    const mine = ++generation;
    window.gridgisReportPending = true;  // window.gridgisDrawn waits for the answer too
    delete window.gridgisDrawn;
    status.className = "gg-hint";
    status.textContent = "计算中… Computing…";
    pending.then(function (answer) {
      if (mine !== generation) return;
      const body = answer.body;
      if (!answer.res.ok) { showError(body); settled(); return; }
      render(body);
      status.textContent = (body.cached ? "缓存结果 Cached result" : "已计算 Computed") +
        " · " + Number(body.computed_s || 0).toFixed(2) + " s";
      document.body.dataset.loaded = String(mine);
      settled();
    }).catch(function (err) {
      if (mine === generation) { showError(null); settled(); }
      window.console.error(err);
    });
  }

  function load() { show(request(level())); }

  function navigate(value) {
    const p = new URLSearchParams(window.location.search);
    if (value && value !== "township") p.set("level", value); else p.delete("level");
    const q = p.toString();
    window.history.pushState(null, "", cfg.page_url + (q ? "?" + q : ""));
    load();
  }

  window.gridgisReportPending = true;
  const first = request(level());
  first.catch(function () {});  // handled once the page is parsed (show)
  document.addEventListener("DOMContentLoaded", function () {
    objects = window.gridgisObjects;
    map = objects[cfg.map];
    control = objects[cfg.control];
    status = document.getElementById("gg-status");
    form = document.getElementById("gg-level-form");
    // the server's layers in their stacking order (fills low, points high)
    Object.entries(cfg.z || {}).forEach(function ([name, z]) {
      const layer = objects[name];
      if (layer && layer.setZIndex) layer.setZIndex(z);
    });
    if (form) {
      const select = form.querySelector("select[name=level]");
      select.addEventListener("change", function () { navigate(select.value); });
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        navigate(select.value);
      });
      window.addEventListener("popstate", function () { select.value = level(); load(); });
    }
    show(first);
  });
})();
