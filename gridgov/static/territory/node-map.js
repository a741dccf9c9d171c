/* Map preview of a node in the admin: its polygon, its parent's outline and its children.
   Without a tile URL the shapes are drawn on a plain background, so it works offline. */
(function () {
  "use strict";

  function draw(el) {
    var data = JSON.parse(document.getElementById(el.dataset.source).textContent);
    var map = L.map(el, { zoomSnap: 0.25, scrollWheelZoom: false });
    if (data.tiles && data.tiles.url) {
      L.tileLayer(data.tiles.url, { attribution: data.tiles.attribution || "", maxZoom: 19 }).addTo(map);
    }
    // the cell's code and name as text (a name is user data: never parsed as HTML)
    var label = function (f) { return gridgovDom.el("span", null, [f.code ? f.code + " " : null, f.name]); };
    var bounds = L.latLngBounds([]);
    if (data.parent) {
      var parent = L.geoJSON(data.parent.geometry, {
        style: { color: "#4b5563", weight: 2, dashArray: "6 4", fill: false },
        className: "map-parent"
      }).bindTooltip(label(data.parent), { sticky: true }).addTo(map);
      bounds.extend(parent.getBounds());
    }
    (data.children || []).forEach(function (child) {
      L.geoJSON(child.geometry, {
        style: { color: "#0b5cad", weight: 1, fillColor: "#0b5cad", fillOpacity: 0.12 }
      }).bindTooltip(label(child), { sticky: true }).addTo(map);
    });
    var node = L.geoJSON(data.node.geometry, {
      style: { color: "#b3261e", weight: 3, fillColor: "#b3261e", fillOpacity: data.children.length ? 0.05 : 0.25 }
    }).bindTooltip(label(data.node), { sticky: true }).addTo(map);
    L.control.scale({ imperial: false }).addTo(map);
    var nodeBounds = node.getBounds();
    map.fitBounds(nodeBounds.isValid() ? nodeBounds : bounds, { padding: [20, 20] });
    el.dataset.ready = "1";
  }

  function init() {
    if (typeof L === "undefined") { return; }
    document.querySelectorAll("[data-node-map]").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
