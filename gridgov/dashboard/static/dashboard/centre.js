/* The command centre's map: the cells one level below the current one coloured by their open / yellow /
   overdue cases (click to drill down), clustered markers of the open cases, and the workers' latest
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
  var generation = 0;
  var lastQuery = null;
  var REFRESH_MS = 60000;

  function text(s) {
    var span = document.createElement("span");
    span.textContent = s == null ? "" : String(s);
    return span.innerHTML;
  }

  function styleCell(feature) {
    var p = feature.properties;
    return gridgovMap.cellStyle(p.open, p.red, p.yellow);
  }

  function cellSummary(p) {
    return "<strong>" + text(p.name) + "</strong><br>" + text(p.open) + " " + text(T.open) + " · " +
      text(p.yellow) + " " + text(T.yellow) + " · " + text(p.red) + " " + text(T.red);
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
        path.setAttribute("data-red", p.red);
      }
    });
  }

  function caseIcon(p) {
    return L.divIcon({ className: "case-marker sla-" + p.sla + (p.level !== "ROUTINE" ? " case-marker-" + p.level : ""),
                       html: "", iconSize: [16, 16], iconAnchor: [8, 8] });
  }

  function casePopup(p) {
    return '<div class="case-popup"><p><strong class="code">' + text(p.number) + "</strong></p>" +
      "<p>" + text(p.matter) + "</p><p>" + text(p.state_label) + ' <span class="sla sla-' + text(p.sla) + '">' +
      text(p.sla_label) + "</span></p>" + (p.due ? "<p>" + text(T.due) + ": " + text(p.due) + "</p>" : "") +
      '<p><a href="' + text(p.url) + '">' + text(T.details) + "</a></p></div>";
  }

  function workerPopup(p) {
    return '<div class="worker-popup"><p><strong>' + text(p.username) + "</strong></p><p>" + text(p.roles.join(", ")) +
      "</p><p>" + text(p.cells.join(", ")) + "</p><p>" + text(T.position_at) + " " + text(p.reported_at) +
      (p.accuracy_m ? " (" + text(T.accuracy) + " ±" + text(p.accuracy_m) + " m)" : "") + "</p></div>";
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
      if (!map.hasLayer(caseLayer)) { caseLayer.addTo(map); workerLayer.addTo(map); }
      caseLayer.clearLayers();
      caseLayer.addLayers(cases.features.map(function (f) {
        var c = f.geometry.coordinates;
        return L.marker([c[1], c[0]], { icon: caseIcon(f.properties), title: f.properties.number,
                                        alt: f.properties.number }).bindPopup(casePopup(f.properties));
      }));
      workerLayer.clearLayers();
      workers.features.forEach(function (f) {
        var c = f.geometry.coordinates;
        var icon = L.divIcon({ className: "worker-marker", html: "", iconSize: [18, 18], iconAnchor: [9, 9] });
        L.marker([c[1], c[0]], { icon: icon, title: f.properties.username, zIndexOffset: 1000 })
          .bindTooltip(text(f.properties.username) + " · " + text(f.properties.roles.join(", ")))
          .bindPopup(workerPopup(f.properties)).addTo(workerLayer);
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
