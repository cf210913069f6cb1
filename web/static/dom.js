/* gridgis DOM helpers for the page scripts (reports.js, coverage.js): elements are built from
   text nodes only, so no text from the server is ever parsed as HTML. */
(function () {
  "use strict";

  // an element with attributes ("text": its text, "class", "style": an object) and children
  // (strings, numbers or nodes; null and undefined are skipped)
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(function ([k, v]) {
      if (v === null || v === undefined) return;
      if (k === "text") node.textContent = String(v);
      else if (k === "class") node.className = v;
      else if (k === "style") Object.assign(node.style, v);
      else node.setAttribute(k, v);
    });
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      node.appendChild(typeof c === "string" || typeof c === "number"
        ? document.createTextNode(String(c)) : c);
    });
    return node;
  }

  // replace the children of #id with the given nodes (empty ones skipped)
  function fill(id, nodes) {
    const box = document.getElementById(id);
    if (!box) return null;
    box.replaceChildren.apply(box, nodes.filter(function (n) { return n; }));
    return box;
  }

  // the text of #id; "—" for no value
  function setText(id, value) {
    const node = document.getElementById(id);
    if (node) node.textContent = value === null || value === undefined ? "—" : String(value);
  }

  window.gridgisDom = {el: el, fill: fill, setText: setText};
})();
