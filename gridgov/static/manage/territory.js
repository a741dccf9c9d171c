/* The territory page of the management: the tree opens a cell's children on demand (buttons with
   aria-expanded; Enter / Space, or the arrow keys: right opens, left closes), the selected cell's panel
   is loaded with htmx, and its map draws the cell and the cells below it, their names written on them
   (choose one to open it). */
(function () {
  "use strict";

  var detail = document.getElementById("node-detail");

  // ------------------------------------------------------------------ the tree
  function open(button) {
    var list = document.getElementById(button.getAttribute("aria-controls"));
    if (!list) { return; }
    if (list.dataset.loaded) {
      list.hidden = false;
      button.setAttribute("aria-expanded", "true");
      return;
    }
    button.setAttribute("aria-busy", "true");
    htmx.ajax("GET", button.dataset.url, { target: list, swap: "innerHTML" }).then(function () {
      list.dataset.loaded = "1";
      list.hidden = false;
      button.setAttribute("aria-expanded", "true");
      button.removeAttribute("aria-busy");
      markSelected();
    }, function () { button.removeAttribute("aria-busy"); });
  }

  function close(button) {
    var list = document.getElementById(button.getAttribute("aria-controls"));
    if (list) { list.hidden = true; }
    button.setAttribute("aria-expanded", "false");
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest(".tree-toggle");
    if (!button) { return; }
    event.preventDefault();
    if (button.getAttribute("aria-expanded") === "true") { close(button); } else { open(button); }
  });

  document.addEventListener("keydown", function (event) {
    var button = event.target.closest && event.target.closest(".tree-toggle");
    if (!button) { return; }
    if (event.key === "ArrowRight" && button.getAttribute("aria-expanded") !== "true") { event.preventDefault(); open(button); }
    if (event.key === "ArrowLeft" && button.getAttribute("aria-expanded") === "true") { event.preventDefault(); close(button); }
  });

  function markSelected() {
    var card = detail && detail.querySelector(".node-card");
    var id = card ? card.dataset.nodeId : null;
    document.querySelectorAll(".tree-item").forEach(function (item) {
      var link = item.querySelector(":scope > .tree-row > .tree-link");
      if (!link) { return; }
      if (item.dataset.node === id) { link.setAttribute("aria-current", "true"); } else { link.removeAttribute("aria-current"); }
    });
  }

  // ------------------------------------------------------------------ the map of the selected cell
  var NODE_STYLE = { color: "#b3261e", weight: 2.5, dashArray: "6 4", fill: false };

  function select(url) {
    htmx.ajax("GET", url, { target: "#node-detail", swap: "innerHTML" }).then(function () {
      history.pushState({}, "", url);
    });
  }

  function drawMap(el) {
    if (el.dataset.init) { return; }
    el.dataset.init = "1";
    var map = gridgovMap.create(el);
    fetch(el.dataset.url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("map data: HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        var bounds = L.latLngBounds([]);
        var cell = data.features.filter(function (f) { return f.properties.role === "node" && f.geometry; });
        var children = data.features.filter(function (f) { return f.properties.role === "child" && f.geometry; });
        var childLayer = L.geoJSON({ type: "FeatureCollection", features: children }, {
          style: function () { return gridgovMap.cellStyle(1, 0, 0); },
          onEachFeature: function (feature, layer) {
            var p = feature.properties;
            layer.bindTooltip(gridgovDom.el("span", null, [p.name, p.code ? " " + p.code : null]),
                              { sticky: true, className: "cell-label" });
            layer.on("click", function () { select(p.url); });
            layer.on("mouseover", function () { layer.setStyle({ weight: 3, fillOpacity: 0.45 }); });
            layer.on("mouseout", function () { childLayer.resetStyle(layer); });
          }
        }).addTo(map);
        var cellLayer = L.geoJSON({ type: "FeatureCollection", features: cell }, { style: NODE_STYLE, interactive: false }).addTo(map);
        [cellLayer, childLayer].forEach(function (layer) {
          var b = layer.getBounds();
          if (b.isValid()) { bounds.extend(b); }
        });
        if (bounds.isValid()) { map.fitBounds(bounds, { padding: [12, 12] }); } else { map.setView([35, 105], 4); }
        // the names on the cells below (the cell's own when it has none)
        gridgovMap.labelCells(map, children.length ? childLayer : cellLayer, function (f) { return f.properties.name; });
        el.dataset.children = String(children.length);
        gridgovMap.ready(el);
      })
      .catch(function (error) {
        el.after(gridgovDom.el("p", { className: "errors", role: "alert" }, error.message));
      });
  }

  function init(root) {
    (root || document).querySelectorAll(".node-map").forEach(drawMap);
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); markSelected(); });
  document.body.addEventListener("htmx:afterSettle", function (event) {
    if (event.target === detail) {
      init(detail);
      markSelected();
      var card = detail.querySelector(".node-card");
      if (card && card.dataset.title) { document.title = card.dataset.title + " · " + document.title.split(" · ").pop(); }
      var heading = detail.querySelector("#node-heading");
      if (heading) { heading.focus({ preventScroll: false }); }
    }
  });
  // a detail panel restored from htmx's history cache has its map already marked: draw it again
  document.body.addEventListener("htmx:historyRestore", function () {
    document.querySelectorAll(".node-map").forEach(function (el) { el.removeAttribute("data-init"); gridgovDom.clear(el); });
    detail = document.getElementById("node-detail");
    init(document);
    markSelected();
  });
})();
