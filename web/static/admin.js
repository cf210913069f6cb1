/* gridgis administrators' pages: accounts (create with the unit picker, disable, reset the
   password, issue a token) and the audit trail (filters, paging, CSV). Text nodes only. */
(function () {
  "use strict";
  const {el, fill, setText} = window.gridgisDom;
  const {api, when, status, say} = window.gridgisCases;
  const root = document.querySelector("[data-admin]");
  if (!root) return;

  function message(text, isError) { return say("gg-admin-message", text, isError); }

  function randomPassword() {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, function (b) { return "abcdefghjkmnpqrstuvwxyzACDEFGHJKLMNPQRSTUVWXYZ23456789"[b % 54]; }).join("");
  }

  function accountsPage() {
    const form = document.getElementById("gg-new-account");
    const search = document.getElementById("gg-unit-search");
    const chosen = new Map();
    let found = [];
    form.elements.password.value = randomPassword();

    function drawChosen() {
      fill("gg-chosen-units", Array.from(chosen.values()).map(function (u) {
        const x = el("button", {type: "button", "aria-label": "移除 remove " + u.code, text: "×"});
        x.addEventListener("click", function () { chosen.delete(u.code); drawChosen(); });
        return el("span", {class: "gg-chip", "data-code": u.code}, [u.name + " " + u.code + " ", x]);
      }));
    }
    search.addEventListener("input", function () {
      const q = search.value.trim();
      const hit = found.find(function (u) { return q === u.code || q === u.code + " " + u.name; });
      if (hit) { chosen.set(hit.code, hit); search.value = ""; drawChosen(); return; }
      if (!q) return;
      api("/api/v1/units?limit=20&q=" + encodeURIComponent(q.split(" ")[0])).then(function (body) {
        found = body.units;
        fill("gg-unit-options", found.map(function (u) {
          return el("option", {value: u.code + " " + u.name, label: u.level_label + (u.parent_name ? " · " + u.parent_name : "")});
        }));
      }).catch(function () {});
    });

    function load() {
      api("/api/v1/accounts").then(function (body) {
        fill("gg-account-rows", body.accounts.map(function (a) {
          const toggle = el("button", {type: "button", "data-do": "toggle", text: a.active ? "停用 Disable" : "启用 Enable"});
          toggle.addEventListener("click", function () {
            api("/api/v1/accounts/" + a.id, {method: "PATCH", json: {active: !a.active}})
              .then(function () { message((a.active ? "已停用 Disabled: " : "已启用 Enabled: ") + a.username); load(); })
              .catch(function (err) { message(err.message, true); });
          });
          const reset = el("button", {type: "button", "data-do": "reset", text: "重置密码 Reset password"});
          reset.addEventListener("click", function () {
            const password = randomPassword();
            api("/api/v1/accounts/" + a.id, {method: "PATCH", json: {password: password}})
              .then(function () { message("新密码 New password for " + a.username + ": " + password + "（请当面告知 tell them in person）"); })
              .catch(function (err) { message(err.message, true); });
          });
          const token = el("button", {type: "button", "data-do": "token", text: "新令牌 New token"});
          token.addEventListener("click", function () {
            api("/api/v1/tokens", {method: "POST", json: {account_id: a.id, name: "admin page"}})
              .then(function (t) { message("令牌只显示一次 The token is shown once: " + t.secret); })
              .catch(function (err) { message(err.message, true); });
          });
          return el("tr", {"data-username": a.username}, [
            el("td", {text: a.username}), el("td", {text: a.display_name}),
            el("td", {text: a.role_label}),
            el("td", {text: a.units.map(function (u) { return u.level + " " + u.code; }).join(", ") || "全部 all"}),
            el("td", {text: a.active ? "启用 active" : "停用 disabled"}),
            el("td", {text: when(a.last_sign_in_at)}),
            el("td", {class: "gg-actions"}, [toggle, reset, token])]);
        }));
      }).catch(function (err) { message(err.message, true); });
    }

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      const body = {username: form.elements.username.value, display_name: form.elements.display_name.value,
        role: form.elements.role.value, password: form.elements.password.value,
        units: Array.from(chosen.keys())};
      api("/api/v1/accounts", {method: "POST", json: body}).then(function (a) {
        message("已创建 Created " + a.username + " · 初始密码 initial password: " + body.password);
        form.reset();
        chosen.clear();
        drawChosen();
        form.elements.password.value = randomPassword();
        load();
      }).catch(function (err) { message(err.message, true); });
    });
    load();
  }

  function auditPage() {
    const form = document.getElementById("gg-audit-filters");
    let offset = 0;
    const limit = 100;
    function query() {
      const q = new URLSearchParams();
      new FormData(form).forEach(function (v, k) {
        if (!v) return;
        q.set(k, k === "since" ? v + "T00:00:00+08:00" : k === "until" ? v + "T23:59:59+08:00" : v);
      });
      return q;
    }
    function load() {
      const q = query();
      document.getElementById("gg-audit-csv").href = "/api/v1/audit?format=csv&" + q.toString();
      q.set("limit", limit);
      q.set("offset", offset);
      api("/api/v1/audit?" + q.toString()).then(function (body) {
        fill("gg-audit-rows", body.events.map(function (e) {
          return el("tr", {"data-action": e.action}, [
            el("td", {text: when(e.at)}), el("td", {text: e.username || ""}),
            el("td", {text: e.action}), el("td", {text: e.target || ""}), el("td", {text: e.ip || ""}),
            el("td", {class: "gg-hint", text: e.details ? JSON.stringify(e.details).slice(0, 300) : ""})]);
        }));
        const last = Math.min(offset + body.events.length, body.total);
        setText("gg-page-info", (body.total ? (offset + 1) + "–" + last : "0") + " / " + body.total);
        document.getElementById("gg-prev").disabled = offset === 0;
        document.getElementById("gg-next").disabled = last >= body.total;
        status(body.total + " 条 events");
      }).catch(function (err) { status(err.message, true); });
    }
    form.addEventListener("submit", function (ev) { ev.preventDefault(); offset = 0; load(); });
    document.getElementById("gg-prev").addEventListener("click", function () { offset = Math.max(0, offset - limit); load(); });
    document.getElementById("gg-next").addEventListener("click", function () { offset += limit; load(); });
    load();
  }

  ({accounts: accountsPage, audit: auditPage}[root.dataset.admin])();
})();
