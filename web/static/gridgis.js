/* gridgis: small behaviours every page shares (no inline scripts: the CSP forbids them). */
"use strict";
document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
  select.addEventListener("change", () => select.form.submit());
});
