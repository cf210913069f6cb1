/* gridgis case handling: the incident centre's list (/incidents), my tasks (/tasks) and
   supervision (/supervision). Everything is read through the JSON API and drawn from text
   nodes only (gridgisDom), so no text from the server is parsed as HTML. */
(function () {
  "use strict";
  const {el, fill, setText} = window.gridgisDom;
  const root = document.querySelector("[data-page]");
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');

  function api(url, options) {
    const opts = Object.assign({credentials: "same-origin", headers: {}}, options || {});
    if (opts.json !== undefined) {
      opts.body = JSON.stringify(opts.json);
      opts.headers["Content-Type"] = "application/json";
      delete opts.json;
    }
    if (opts.method && opts.method !== "GET" && csrfMeta) opts.headers["X-CSRFToken"] = csrfMeta.content;
    return fetch(url, opts).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (body) {
        if (!res.ok) {
          const err = new Error((body.error && body.error.message) || ("HTTP " + res.status));
          err.status = res.status;
          err.body = body;
          throw err;
        }
        return body;
      });
    });
  }

  function when(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    const pad = function (n) { return String(n).padStart(2, "0"); };
    // China time, whatever the browser's zone
    const t = new Date(d.getTime() + (d.getTimezoneOffset() + 480) * 60000);
    return t.getFullYear() + "-" + pad(t.getMonth() + 1) + "-" + pad(t.getDate()) + " " +
      pad(t.getHours()) + ":" + pad(t.getMinutes());
  }

  const CARD = {yellow: "黄牌 yellow", red: "红牌 red"};
  function card(c) {
    if (!c.card) return el("span", {class: "gg-card gg-card-none", text: "—"});
    return el("span", {class: "gg-card gg-card-" + c.card, "data-card": c.card, text: CARD[c.card]});
  }

  function place(c) {
    return [c.township_name, c.village_name, c.grid_name].filter(Boolean).join(" / ") || "未覆盖 uncovered";
  }

  function caseRow(c, extra) {
    return el("tr", {"data-id": c.id}, [
      el("td", {}, [el("a", {href: "/incidents/" + c.id, text: c.public_id})]),
      el("td", {text: c.category_label}),
      el("td", {text: c.status_label}),
      el("td", {text: c.level_label}),
      el("td", {text: place(c)}),
      el("td", {text: when(c.stage_due_at)}),
      el("td", {}, [card(c)]),
    ].concat(extra || []));
  }

  function status(text, isError) {
    const box = document.getElementById("gg-status");
    if (!box) return;
    box.textContent = text;
    box.className = "gg-hint" + (isError ? " gg-error" : "");
  }

  // ---- the incident centre ----
  function listPage() {
    const form = document.getElementById("gg-case-filters");
    const params = new URLSearchParams(location.search);
    let tab = params.get("tab") || "all";
    let offset = Number(params.get("offset") || 0);
    const limit = 50;
    ["sort", "order"].forEach(function (k) { if (params.get(k)) form.elements[k].value = params.get(k); });
    let map = null, layer = null;
    if (window.L) {
      map = L.map("gg-case-map", {zoomControl: true, attributionControl: false}).setView([46.1, 125.2], 9);
      layer = L.layerGroup().addTo(map);
    }

    function query(extra) {
      const q = new URLSearchParams();
      new FormData(form).forEach(function (v, k) { if (v) q.set(k, v); });
      q.set("tab", tab);
      Object.entries(extra || {}).forEach(function ([k, v]) { q.set(k, v); });
      return q;
    }

    function draw(body) {
      body.tabs.forEach(function (t) {
        const b = document.querySelector('[data-count="' + t.tab + '"]');
        if (b) b.textContent = String(t.count);
      });
      document.querySelectorAll("#gg-case-tabs a").forEach(function (a) {
        a.classList.toggle("active", a.dataset.tab === tab);
      });
      fill("gg-case-rows", body.cases.length ? body.cases.map(function (c) { return caseRow(c); })
        : [el("tr", {}, [el("td", {colspan: "7", text: "没有符合条件的事件 No cases match."})])]);
      const last = Math.min(body.offset + body.cases.length, body.total);
      setText("gg-page-info", (body.total ? (body.offset + 1) + "–" + last : "0") + " / " + body.total);
      document.getElementById("gg-prev").disabled = body.offset === 0;
      document.getElementById("gg-next").disabled = last >= body.total;
      status("筛选 Filter: " + body.filter + " · " + body.total + " 件 cases");
      if (map) {
        layer.clearLayers();
        const pts = [];
        body.cases.forEach(function (c) {
          if (c.lat === null || c.lon === null) return;
          const colour = c.card === "red" ? "#c1121f" : c.card === "yellow" ? "#e9c46a" : "#1d3557";
          const m = L.circleMarker([c.lat, c.lon], {radius: 6, color: "#fff", weight: 1, fillColor: colour, fillOpacity: 0.9});
          m.bindTooltip(document.createTextNode(c.public_id + " " + c.category_label));
          m.on("click", function () { location.href = "/incidents/" + c.id; });
          m.addTo(layer);
          pts.push([c.lat, c.lon]);
        });
        if (pts.length) map.fitBounds(pts, {maxZoom: 15, padding: [20, 20]});
      }
      const exp = document.getElementById("gg-case-export");
      if (exp) exp.href = "/api/v1/cases/export.csv?" + query().toString();
    }

    function load() {
      status("载入中… Loading…");
      const q = query({limit: limit, offset: offset});
      history.replaceState(null, "", "/incidents?" + query(offset ? {offset: offset} : {}).toString());
      api("/api/v1/cases?" + q.toString()).then(draw).catch(function (err) { status(err.message, true); });
    }

    form.addEventListener("submit", function (ev) { ev.preventDefault(); offset = 0; load(); });
    document.querySelectorAll("#gg-case-tabs a").forEach(function (a) {
      a.addEventListener("click", function (ev) { ev.preventDefault(); tab = a.dataset.tab; offset = 0; load(); });
    });
    document.getElementById("gg-prev").addEventListener("click", function () { offset = Math.max(0, offset - limit); load(); });
    document.getElementById("gg-next").addEventListener("click", function () { offset += limit; load(); });
    load();
  }

  // ---- my tasks ----
  function tasksPage() {
    api("/api/v1/tasks?limit=200").then(function (body) {
      fill("gg-task-rows", body.tasks.length ? body.tasks.map(function (c) {
        return caseRow(c, [el("td", {text: c.assigned ? "派给我/本部门 dispatched to me" : "本级待办 waiting at my level"})]);
      }) : [el("tr", {}, [el("td", {colspan: "8", text: "暂无待办 Nothing waits for you."})])]);
      setText("gg-task-total", body.total);
      fill("gg-done-rows", body.done.length ? body.done.map(function (c) {
        return el("tr", {}, [
          el("td", {}, [el("a", {href: "/incidents/" + c.id, text: c.public_id})]),
          el("td", {text: c.done_label}), el("td", {text: when(c.done_at)}),
          el("td", {text: c.status_label}), el("td", {text: c.done_note || ""})]);
      }) : [el("tr", {}, [el("td", {colspan: "5", text: "暂无 None yet."})])]);
      status("共 " + body.total + " 件待办 tasks · 新到 " + body.unread + " new");
      return api("/api/v1/tasks/seen", {method: "POST"});
    }).then(function () {
      const badge = document.getElementById("gg-unread");
      if (badge) badge.hidden = true;
    }).catch(function (err) { status(err.message, true); });
  }

  // ---- supervision ----
  function supervisionPage() {
    const query = new URLSearchParams(location.search);
    function load(note) {
      api("/api/v1/supervision?" + query.toString()).then(function (body) {
        setText("gg-sup-level", body.level_label);
        fill("gg-sup-units", body.units.length ? body.units.map(function (u) {
          return el("tr", {"data-unit": u.unit_code}, [
            el("td", {}, [el("a", {href: "/incidents?unit=" + encodeURIComponent(u.unit_code) + "&tab=overdue", text: u.unit_name || u.unit_code})]),
            el("td", {text: u.open}),
            el("td", {}, [el("span", {class: "gg-card gg-card-yellow", text: u.yellow})]),
            el("td", {}, [el("span", {class: "gg-card gg-card-red", text: u.red})]),
            el("td", {text: u.reminders})]);
        }) : [el("tr", {}, [el("td", {colspan: "5", text: "没有在办事件 No open cases."})])]);
        fill("gg-sup-cases", body.cases.length ? body.cases.map(function (c) {
          const note = el("input", {type: "text", maxlength: "2000", placeholder: "催办意见 reminder", "aria-label": "催办意见 reminder"});
          const btn = el("button", {type: "button", text: "催办 Remind"});
          btn.addEventListener("click", function () {
            api("/api/v1/incidents/" + c.id + "/events").then(function (ev) {
              return api("/api/v1/incidents/" + c.id + "/transitions", {method: "POST", json: {
                action: "remind", version: ev.incident.version, note: note.value || "请尽快办理 please act now"}});
            }).then(function () { load("已催办 Reminder sent: " + c.public_id); })
              .catch(function (err) { status(err.message, true); });
          });
          return caseRow(c, [el("td", {text: c.remind_count}), el("td", {class: "gg-inline"}, [note, btn])]);
        }) : [el("tr", {}, [el("td", {colspan: "9", text: "没有黄牌或红牌 No yellow or red cards."})])]);
        status((note ? note + " · " : "") + "红牌 red " + body.totals.red + " · 黄牌 yellow " + body.totals.yellow + " · 在办 open " + body.totals.open);
      }).catch(function (err) { status(err.message, true); });
    }
    load();
  }

  // a message box (#id) saying how an action went; returns the box
  function say(id, text, isError) {
    const m = document.getElementById(id);
    m.textContent = text;
    m.className = "gg-message " + (isError ? "gg-error" : "gg-ok");
    return m;
  }

  window.gridgisCases = {api: api, when: when, card: card, status: status, say: say};
  if (!root) return;
  ({list: listPage, tasks: tasksPage, supervision: supervisionPage}[root.dataset.page] || function () {})();
})();
