/* The command centre's map: the cells one level below the current one, named and coloured by their open /
   yellow / overdue cases (click to drill down), clustered markers of the open cases, and the workers' latest
   positions. Data comes from the page's JSON endpoints (data-*-url on the map element); when the filter
   bar changes, htmx swaps #centre-live (figures, queue, cell table) and the map reloads with its query. */
(function () {
  "use strict";

  var el = document.getElementById("centre-map");
  var textsNode = document.getElementById("centre-texts");
  var form = document.getElementById("centre-filters");
  if (!el || !textsNode || !el.dataset.cellsUrl) return;
  var T = JSON.parse(textsNode.textContent);
  var status = document.getElementById("centre-map-status");

  var map = gridgovMap.create(el, { scrollWheelZoom: true });
  // clustering needs a zoom range, which a map without a tile layer does not have
  if (!isFinite(map.getMaxZoom())) map.setMaxZoom(19);
  if (!isFinite(map.getMinZoom())) map.setMinZoom(3);
  var cellLayer = L.geoJSON(null, { style: styleCell, onEachFeature: bindCell }).addTo(map);
  // added to the map once it has a view (after the first data arrives)
  var caseLayer = L.markerClusterGroup({ showCoverageOnHover: false, maxClusterRadius: 50 });
  var workerLayer = L.layerGroup();
  var fitted = false;
  var cellNames = null;
  var generation = 0;
  var lastQuery = null;
  var REFRESH_MS = 60000;

  // tooltips and popups are elements with text in them: names, matters and logins are user data
  var h = gridgovDom.el;

  function styleCell(feature) {
    var p = feature.properties;
    return gridgovMap.cellStyle(p.open, p.overdue, p.warning);
  }

  function cellSummary(p) {
    return h("span", null, [h("strong", null, p.name), h("br"),
      p.open + " " + T.open + " · " + p.warning + " " + T.warning + " · " + p.overdue + " " + T.overdue]);
  }

  function bindCell(feature, layer) {
    var p = feature.properties;
    layer.bindTooltip(cellSummary(p), { sticky: true });
    layer.on("click", function () { window.location.href = p.url; });
    layer.on("add", function () {
      var path = layer.getElement && layer.getElement();
      if (path) {
        path.classList.add("centre-cell");
        path.setAttribute("data-cell", p.id);
        path.setAttribute("data-open", p.open);
        path.setAttribute("data-overdue", p.overdue);
      }
    });
  }

  function caseIcon(p) {
    return L.divIcon({ className: "case-marker sla-" + p.sla + (p.level !== "ROUTINE" ? " case-marker-" + p.level : ""),
                       html: "", iconSize: [16, 16], iconAnchor: [8, 8] });
  }

  function casePopup(p) {
    return h("div", { className: "case-popup" }, [
      h("p", null, h("strong", { className: "code" }, p.number)),
      h("p", null, p.matter),
      h("p", null, [p.state_label, " ", h("span", { className: "sla sla-" + p.sla }, p.sla_label)]),
      p.due ? h("p", null, T.due + ": " + p.due) : null,
      h("p", null, h("a", { href: p.url }, T.details))
    ]);
  }

  function workerPopup(p) {
    return h("div", { className: "worker-popup" }, [
      h("p", null, h("strong", null, p.name || p.username)),
      h("p", null, p.roles.join(", ")),
      h("p", null, p.cells.join(", ")),
      h("p", null, T.position_at + " " + p.reported_at +
        (p.accuracy_m ? " (" + T.accuracy + " ±" + p.accuracy_m + " m)" : ""))
    ]);
  }

  function fetchJson(url) {
    return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    });
  }

  function withQuery(url, query) {
    return url.split("?")[0] + "?" + query;
  }

  function fit(cells) {
    if (fitted) return;
    var bounds = cellLayer.getBounds();
    if (!bounds.isValid() && cells.cell && cells.cell.bbox) {
      var b = cells.cell.bbox;
      bounds = L.latLngBounds([b[1], b[0]], [b[3], b[2]]);
    }
    if (!bounds.isValid() && cells.cell && cells.cell.geometry) {
      bounds = L.geoJSON(cells.cell.geometry).getBounds();
    }
    if (bounds.isValid()) {
      map.fitBounds(bounds, { padding: [12, 12] });
    } else {
      map.setView([39.9, 116.4], 10);
    }
    fitted = true;
  }

  function load(query) {
    var mine = ++generation;
    lastQuery = query;
    el.setAttribute("aria-busy", "true");
    Promise.all([
      fetchJson(withQuery(el.dataset.cellsUrl, query)),
      fetchJson(withQuery(el.dataset.casesUrl, query)),
      fetchJson(withQuery(el.dataset.workersUrl, query))
    ]).then(function (data) {
      if (mine !== generation) return;
      var cells = data[0], cases = data[1], workers = data[2];
      cellLayer.clearLayers();
      cellLayer.addData(cells);
      fit(cells);
      if (cellNames) map.removeLayer(cellNames);
      cellNames = gridgovMap.labelCells(map, cellLayer, function (f) { return f.properties.name; });
      if (!map.hasLayer(caseLayer)) { caseLayer.addTo(map); workerLayer.addTo(map); }
      caseLayer.clearLayers();
      caseLayer.addLayers(cases.features.map(function (f) {
        var c = f.geometry.coordinates;
        return L.marker([c[1], c[0]], { icon: caseIcon(f.properties), title: f.properties.number,
                                        alt: f.properties.number }).bindPopup(function () { return casePopup(f.properties); });
      }));
      workerLayer.clearLayers();
      workers.features.forEach(function (f) {
        var c = f.geometry.coordinates;
        var icon = L.divIcon({ className: "worker-marker", html: "", iconSize: [18, 18], iconAnchor: [9, 9] });
        var who = f.properties.name || f.properties.username;
        L.marker([c[1], c[0]], { icon: icon, title: who, zIndexOffset: 1000 })
          .bindTooltip(h("span", null, who + " · " + f.properties.roles.join(", ")))
          .bindPopup(function () { return workerPopup(f.properties); }).addTo(workerLayer);
      });
      el.dataset.cells = String(cells.features.length);
      el.dataset.cases = String(cases.features.length);
      el.dataset.workers = String(workers.features.length);
      status.textContent = cases.truncated ? T.truncated.replace("%(n)s", cases.features.length)
        : (cases.features.length ? "" : T.nothing);
      el.removeAttribute("aria-busy");
      gridgovMap.ready(el);
    }).catch(function (err) {
      if (window.console) console.error("centre map:", err);
      if (mine !== generation) return;
      el.removeAttribute("aria-busy");
      status.textContent = T.failed;
    });
  }

  function currentQuery() {
    var live = document.getElementById("centre-live");
    return live && live.dataset.query ? live.dataset.query : el.dataset.cellsUrl.split("?")[1] || "";
  }

  load(currentQuery());

  // the cell and scheme selects move to another place: a full page (breadcrumbs, heading, map extent)
  if (form) {
    form.addEventListener("change", function (event) {
      var name = event.target && event.target.name;
      if (name === "cell" || name === "scheme") {
        if (name === "scheme" && form.elements.cell) form.elements.cell.disabled = true;
        form.submit();
      }
    });
  }

  // ... so htmx does not also fetch the live part for them (a trigger filter would be eval, refused by the CSP)
  document.body.addEventListener("htmx:confirm", function (event) {
    var trigger = event.detail.triggeringEvent;
    var name = trigger && trigger.target && trigger.target.name;
    if (form && event.detail.elt === form && (name === "cell" || name === "scheme")) event.preventDefault();
  });

  document.body.addEventListener("htmx:beforeSwap", function (event) {
    // a filter the server refused comes back with 400: show its errors in place
    if (event.detail.xhr && event.detail.xhr.status === 400 && event.detail.target &&
        event.detail.target.id === "centre-live") {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // after a swap of #centre-live (new filters) the map follows its query; the queue's own polling
  // swaps leave the query as it was
  document.body.addEventListener("htmx:afterSettle", function () {
    var live = document.getElementById("centre-live");
    if (live && live.dataset.query && live.dataset.query !== lastQuery) load(live.dataset.query);
  });

  // the counts and markers change while the centre watches: redraw them now and then
  window.setInterval(function () {
    if (!document.hidden && lastQuery !== null) load(lastQuery);
  }, REFRESH_MS);
})();
