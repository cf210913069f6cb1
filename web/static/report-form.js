/* gridgis: the report form (/report), made for a phone: category, description, photos from
   the camera, the position from the phone (browser geolocation is WGS84) or a tap on the map,
   the grid the report will land in before sending, and the case number once it is sent. */
(function () {
  "use strict";
  const {api, say} = window.gridgisCases;
  const form = document.getElementById("gg-report-form");
  const where = document.getElementById("gg-where");
  let map = null, marker = null;

  function message(text, isError) { return say("gg-report-message", text, isError); }

  function place(lon, lat) {
    form.elements.lon.value = String(lon);
    form.elements.lat.value = String(lat);
    if (map) {
      if (marker) marker.setLatLng([lat, lon]);
      else marker = L.circleMarker([lat, lon], {radius: 9, color: "#fff", weight: 2, fillColor: "#c1121f", fillOpacity: 1}).addTo(map);
    }
    where.textContent = "定位中… Locating…";
    api("/api/v1/locate?lon=" + lon + "&lat=" + lat).then(function (loc) {
      const parts = ["township", "village"].map(function (k) { return loc[k] && loc[k].name; }).filter(Boolean);
      where.textContent = loc.grid
        ? "将进入网格 It will go to grid: " + loc.grid.name + " (" + loc.grid.code + ")" + (parts.length ? " · " + parts.join(" / ") : "")
        : "此处不在任何网格内 This place is outside every grid";
      where.dataset.grid = loc.grid ? loc.grid.code : "";
    }).catch(function (err) { where.textContent = err.message; });
  }

  if (window.L) {
    map = L.map("gg-report-map", {attributionControl: false}).setView([46.1, 125.2], 10);
    api("/api/v1/collections/grids").then(function (c) {
      const b = c.extent && c.extent.spatial && c.extent.spatial.bbox && c.extent.spatial.bbox[0];
      if (b) map.fitBounds([[b[1], b[0]], [b[3], b[2]]]);
    }).catch(function () {});
    fetch("/api/v1/collections/grids/items?limit=500", {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (fc) {
        if (fc) L.geoJSON(fc, {interactive: false, style: {color: "#1d3557", weight: 1, fillOpacity: 0.03}}).addTo(map);
      }).catch(function () {});
    map.on("click", function (e) { place(Number(e.latlng.lng.toFixed(7)), Number(e.latlng.lat.toFixed(7))); });
  }

  document.getElementById("gg-locate").addEventListener("click", function () {
    if (!navigator.geolocation) { where.textContent = "此设备无法定位 This device cannot tell its position"; return; }
    where.textContent = "获取位置… Getting your position…";
    navigator.geolocation.getCurrentPosition(function (pos) {
      place(Number(pos.coords.longitude.toFixed(7)), Number(pos.coords.latitude.toFixed(7)));
      if (map) map.setView([pos.coords.latitude, pos.coords.longitude], 16);
    }, function (err) { where.textContent = "无法获取位置 No position: " + err.message; },
    {enableHighAccuracy: true, timeout: 15000});
  });

  // ---- the offline queue: reports written without a connection wait in IndexedDB (photos
  // included) and are sent when it returns; each carries its own id (external_id), so a
  // resend after a lost answer finds the stored case instead of making a second one ----
  const DB = "gridgis-reports", STORE = "pending";

  function withStore(mode, fn) {
    return new Promise(function (resolve, reject) {
      const open = indexedDB.open(DB, 1);
      open.onupgradeneeded = function () { open.result.createObjectStore(STORE, {keyPath: "id"}); };
      open.onerror = function () { reject(open.error); };
      open.onsuccess = function () {
        const tx = open.result.transaction(STORE, mode);
        const req = fn(tx.objectStore(STORE));
        tx.oncomplete = function () { resolve(req && req.result); open.result.close(); };
        tx.onerror = function () { reject(tx.error); };
      };
    });
  }
  const queue = {
    put: function (r) { return withStore("readwrite", function (s) { return s.put(r); }); },
    drop: function (id) { return withStore("readwrite", function (s) { return s.delete(id); }); },
    all: function () { return withStore("readonly", function (s) { return s.getAll(); }); },
  };

  function showQueue() {
    return queue.all().then(function (items) {
      const box = document.getElementById("gg-queue");
      box.hidden = !items.length;
      box.textContent = items.length ? "待发送 Waiting to be sent: " + items.length +
        "（联网后自动发送 sent when the connection returns）" : "";
    });
  }

  function offline(err) {
    return !navigator.onLine || err instanceof TypeError;  // fetch rejects with a TypeError
  }

  function send(report) {
    const step = report.incident ? Promise.resolve(report.incident)
      : api("/api/v1/incidents", {method: "POST", json: report.feature});
    return step.then(function (inc) {
      report.incident = inc;
      if (!report.files.length) return inc;
      const data = new FormData();
      report.files.forEach(function (f) { data.append("file", f, f.name || "photo.jpg"); });
      return api("/api/v1/incidents/" + inc.id + "/attachments", {method: "POST", body: data})
        .then(function () { return inc; });
    });
  }

  function confirmed(inc) {
    const m = message("已上报 Sent. 案件编号 Case number: " + inc.properties.public_id + " ");
    const link = document.createElement("a");
    link.href = "/incidents/" + inc.id;
    link.textContent = "查看 Open it";
    link.dataset.testid = "report-link";
    m.appendChild(link);
  }

  let flushing = false;
  function flush() {
    if (flushing || !navigator.onLine) return Promise.resolve();
    flushing = true;
    return queue.all().then(function (items) {
      return items.reduce(function (p, report) {
        return p.then(function () {
          return send(report).then(function (inc) {
            confirmed(inc);
            return queue.drop(report.id);
          }).catch(function (err) {
            if (offline(err)) return queue.put(report);  // keeps what was sent already
            message(report.feature.properties.description.slice(0, 30) + "…: " + err.message, true);
            return queue.drop(report.id);
          });
        });
      }, Promise.resolve());
    }).finally(function () { flushing = false; return showQueue(); });
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (!form.elements.lon.value) { message("请先选择位置 Choose the position first", true); return; }
    const button = document.getElementById("gg-report-submit");
    button.disabled = true;
    const id = crypto.randomUUID();
    const report = {id: id, files: Array.from(form.elements.file.files), incident: null,
      feature: {type: "Feature",
        geometry: {type: "Point", coordinates: [Number(form.elements.lon.value), Number(form.elements.lat.value)]},
        properties: {external_id: "app-" + id, category: form.elements.category.value,
                     severity: form.elements.severity.value,
                     description: form.elements.description.value,
                     occurred_at: new Date().toISOString()}}};
    send(report).then(function (inc) {
      confirmed(inc);
      form.reset();
    }).catch(function (err) {
      if (!offline(err)) { message(err.message, true); return; }
      return queue.put(report).then(function () {
        message("无网络：已保存在手机上，联网后自动发送 No connection: saved on the phone, it will be sent when the connection returns");
        form.reset();
        return showQueue();
      });
    }).finally(function () { button.disabled = false; });
  });
  window.addEventListener("online", flush);
  showQueue().then(flush);
})();
