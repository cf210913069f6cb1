/* gridgis: small behaviours every page shares (no inline scripts: the CSP forbids them). */
"use strict";
document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
  select.addEventListener("change", () => select.form.submit());
});
// the unread count of my tasks in the header
const unread = document.getElementById("gg-unread");
if (unread) {
  fetch("/api/v1/tasks/unread", {credentials: "same-origin"})
    .then((r) => (r.ok ? r.json() : null))
    .then((body) => {
      if (body && body.unread > 0) {
        unread.textContent = String(body.unread);
        unread.hidden = false;
      }
    })
    .catch(() => {});
}
