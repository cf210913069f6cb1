/* gridgis: one incident (/incidents/<id>): where it is, its facts, photos and timeline, and
   exactly the actions this account may take now. A stale version (409) reloads the case and
   says what changed. Text is drawn from text nodes only. */
(function () {
  "use strict";
  const {el, fill, setText} = window.gridgisDom;
  const {api, when, card, status, say} = window.gridgisCases;
  const box = document.getElementById("gg-incident");
  const id = box.dataset.incident;
  const labels = JSON.parse(document.getElementById("gg-labels").textContent);
  const form = document.getElementById("gg-action-form");
  let current = null, action = null, map = null, drawn = null;

  function message(text, isError) { return say("gg-act-message", text, isError); }

  const UNIT_KEYS = [["grid", "网格 Grid"], ["hamlet", "屯 Hamlet"], ["village", "村/社区 Village"],
    ["township", "乡镇/街道 Township"], ["city", "县/市 City"], ["prefecture", "地级市 Prefecture"],
    ["province", "省 Province"]];

  function drawMap(feature) {
    if (!window.L) return;
    const [lon, lat] = feature.geometry.coordinates;
    if (!map) {
      map = L.map("gg-incident-map", {attributionControl: false}).setView([lat, lon], 15);
      drawn = L.layerGroup().addTo(map);
    }
    drawn.clearLayers();
    L.circleMarker([lat, lon], {radius: 8, color: "#fff", weight: 2, fillColor: "#c1121f", fillOpacity: 1})
      .bindTooltip(document.createTextNode(feature.properties.public_id || String(id))).addTo(drawn);
    const code = feature.properties.grid_code;
    if (!code) return;
    const d = 0.0005;
    api("/api/v1/collections/grids/items?limit=50&bbox=" + [lon - d, lat - d, lon + d, lat + d].join(","))
      .then(function (fc) {
        fc.features.filter(function (f) { return f.properties.code === code; }).forEach(function (f) {
          const g = L.geoJSON(f, {style: {color: "#1d3557", weight: 2, fillOpacity: 0.08}}).addTo(drawn);
          g.bindTooltip(document.createTextNode(f.properties.name || code), {permanent: true, direction: "center", className: "gg-label"});
          map.fitBounds(g.getBounds(), {maxZoom: 17, padding: [20, 20]});
        });
      }).catch(function () {});
  }

  function drawFacts(feature, life) {
    const p = feature.properties;
    setText("gg-public-id", life.public_id);
    document.getElementById("gg-card").replaceChildren(card(life));
    setText("gg-f-status", life.status_label);
    setText("gg-f-stage", life.stage_label || "—");
    setText("gg-f-level", labels.levels[life.handling_level]);
    setText("gg-f-stage-due", when(life.stage_due_at) + (life.stage_yellow_at ? " (黄牌 yellow " + when(life.stage_yellow_at) + ")" : ""));
    setText("gg-f-accept-due", when(life.accept_due_at));
    setText("gg-f-resolve-due", when(life.resolve_due_at));
    setText("gg-f-assignee", life.assignee_department_id ? "部门 department: " + life.assignee_department_name
      : life.assignee_account_id ? "人员 person: " + life.assignee_account_name : "—");
    setText("gg-f-category", p.category);
    setText("gg-f-severity", p.severity);
    setText("gg-f-source", p.source);
    setText("gg-f-external", p.external_id);
    setText("gg-f-occurred", when(p.occurred_at));
    setText("gg-f-reported", when(p.reported_at));
    setText("gg-f-counts", life.rework_count + " / " + life.remind_count);
    setText("gg-f-description", p.description || "（无描述 no description）");
    fill("gg-units", UNIT_KEYS.filter(function ([k]) { return p[k + "_code"]; }).map(function ([k, label]) {
      return el("li", {}, [label + ": ", el("b", {text: p[k + "_name"] || ""}), " " + p[k + "_code"]]);
    }).concat(p.grid_code ? [] : [el("li", {text: "不在任何网格内 outside every grid"})]));
  }

  function drawTimeline(events, attachments) {
    fill("gg-timeline", events.length ? events.map(function (e) {
      const files = attachments.filter(function (a) { return a.event_id === e.id; });
      const name = (labels.actions[e.action] || [e.action]).join(" ");
      const details = e.details ? Object.entries(e.details).map(function ([k, v]) { return k + ": " + v; }).join(", ") : "";
      return el("li", {"data-action": e.action}, [
        el("b", {text: name}), " · " + when(e.at) + " · " + (e.username || "system"),
        " · " + (e.from_status || "") + " → " + e.to_status,
        e.note ? el("div", {class: "gg-note", text: e.note}) : null,
        details ? el("div", {class: "gg-hint", text: details}) : null,
        files.length ? el("div", {class: "gg-hint"}, ["附件 Attachments: "].concat(files.map(function (a) {
          return el("a", {href: a.url, target: "_blank", rel: "noopener", text: a.filename + " "});
        }))) : null]);
    }) : [el("li", {text: "尚无办理记录 No actions yet."})]);
  }

  function drawAttachments(list) {
    fill("gg-attachments", list.length ? list.map(function (a) {
      const link = el("a", {href: a.url, target: "_blank", rel: "noopener"}, [
        a.thumbnail_url ? el("img", {src: a.thumbnail_url, alt: a.filename, class: "gg-thumb"}) : el("span", {text: "📄 " + a.filename})]);
      return el("figure", {class: "gg-attachment"}, [link, el("figcaption", {text: (a.username || "") + " " + when(a.created_at)})]);
    }) : [el("p", {class: "gg-hint", text: "暂无附件 No attachments."})]);
  }

  function drawActions(life) {
    const buttons = life.allowed_actions.map(function (a) {
      const b = el("button", {type: "button", "data-action": a, text: (labels.actions[a] || [a]).join(" ")});
      b.addEventListener("click", function () { open(a); });
      return b;
    });
    fill("gg-action-buttons", buttons.length ? buttons
      : [el("span", {class: "gg-hint", text: "您现在无可办理的操作 Nothing for you to do on this case now."})]);
  }

  function open(a) {
    action = a;
    form.hidden = false;
    setText("gg-action-title", (labels.actions[a] || [a]).join(" "));
    form.querySelectorAll("label[data-for]").forEach(function (l) {
      l.hidden = l.dataset.for.split(" ").indexOf(a) < 0;
    });
    if (a === "dispatch") {
      api("/api/v1/incidents/" + id + "/dispatch-targets").then(function (t) {
        const opts = t.departments.map(function (d) {
          return el("option", {value: "department:" + d.id, text: "部门 " + d.name + " (" + (d.unit_name || d.unit_code) + ")" + (d.whistle ? " · 吹哨报到" : "")});
        }).concat(t.accounts.map(function (p) {
          return el("option", {value: "account:" + p.id, text: "人员 " + (p.display_name || p.username) + " (" + p.role + ", " + p.unit_code + ")"});
        }));
        form.elements.target.replaceChildren.apply(form.elements.target, opts);
      }).catch(function (err) { message(err.message, true); });
    }
    if (a === "hand_down") {
      const order = ["grid", "village", "township", "city", "prefecture", "province"];
      const below = order.slice(0, order.indexOf(current.handling_level));
      form.elements.level.replaceChildren.apply(form.elements.level, below.reverse().map(function (lv) {
        return el("option", {value: lv, text: labels.levels[lv]});
      }));
    }
    form.elements.note.focus();
  }

  function load(note) {
    return Promise.all([api("/api/v1/incidents/" + id), api("/api/v1/incidents/" + id + "/events"),
      api("/api/v1/incidents/" + id + "/attachments")]).then(function ([feature, ev, att]) {
      current = ev.incident;
      drawFacts(feature, ev.incident);
      drawMap(feature);
      drawTimeline(ev.events, att.attachments);
      drawAttachments(att.attachments);
      drawActions(ev.incident);
      status(note || ("版本 version " + ev.incident.version));
    }).catch(function (err) { status(err.message, true); });
  }

  function upload(eventId) {
    const files = form.elements.file.files;
    if (!files.length) return Promise.resolve();
    const data = new FormData();
    Array.from(files).forEach(function (f) { data.append("file", f); });
    if (eventId) data.append("event_id", String(eventId));
    return api("/api/v1/incidents/" + id + "/attachments", {method: "POST", body: data});
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    const body = {action: action, version: current.version, note: form.elements.note.value || undefined};
    if (action === "dispatch") {
      const [kind, target] = (form.elements.target.value || ":").split(":");
      body[kind === "department" ? "department_id" : "account_id"] = Number(target);
    }
    if (action === "verify" || action === "reject") body.method = form.elements.method.value;
    if (action === "evaluate") body.satisfaction = form.elements.satisfaction.value;
    if (action === "hand_down") body.level = form.elements.level.value;
    document.getElementById("gg-action-submit").disabled = true;
    message("办理中… Working…");
    api("/api/v1/incidents/" + id + "/transitions", {method: "POST", json: body})
      .then(function (res) { return upload(res.event.id).then(function () { return res; }); })
      .then(function (res) {
        form.reset();
        form.hidden = true;
        return load().then(function () {
          message("已办理 Done: " + (labels.actions[res.event.action] || [res.event.action]).join(" ") + " → " + res.incident.status_label);
        });
      })
      .catch(function (err) {
        if (err.status === 409) {
          const d = (err.body.error && err.body.error.details) || {};
          form.hidden = true;
          message("此事件已被他人更新，已重新载入 The case changed meanwhile and was reloaded: 现为 now " +
            (d.status || "") + ", 版本 version " + (d.current_version || ""), true);
          return load();
        }
        message(err.message, true);
      })
      .finally(function () { document.getElementById("gg-action-submit").disabled = false; });
  });
  document.getElementById("gg-action-cancel").addEventListener("click", function () { form.hidden = true; });
  load();
})();
