/* Map preview of a node in the admin: its polygon, its parent's outline and its children, each child's name
   written on it (the node's own when it has none). The base map is the site's (gridgovMap); without one the
   shapes are drawn on a plain background, so it works offline. */
(function () {
  "use strict";

  function draw(el) {
    var data = JSON.parse(document.getElementById(el.dataset.source).textContent);
    var map = gridgovMap.create(el, { scrollWheelZoom: false, tiles: data.tiles });
    // the cell's code and name as text (a name is user data: never parsed as HTML)
    var label = function (f) { return gridgovDom.el("span", null, [f.code ? f.code + " " : null, f.name]); };
    var asFeature = function (f) {
      return { type: "Feature", geometry: f.geometry, properties: { code: f.code, name: f.name } };
    };
    var bounds = L.latLngBounds([]);
    if (data.parent) {
      var parent = L.geoJSON(data.parent.geometry, {
        style: { color: "#4b5563", weight: 2, dashArray: "6 4", fill: false },
        className: "map-parent"
      }).bindTooltip(label(data.parent), { sticky: true }).addTo(map);
      bounds.extend(parent.getBounds());
    }
    var children = L.geoJSON({ type: "FeatureCollection", features: (data.children || []).map(asFeature) }, {
      style: { color: "#0b5cad", weight: 1, fillColor: "#0b5cad", fillOpacity: 0.12 },
      onEachFeature: function (feature, layer) { layer.bindTooltip(label(feature.properties), { sticky: true }); }
    }).addTo(map);
    var node = L.geoJSON(asFeature(data.node), {
      style: { color: "#b3261e", weight: 3, fillColor: "#b3261e", fillOpacity: data.children.length ? 0.05 : 0.25 }
    }).bindTooltip(label(data.node), { sticky: true }).addTo(map);
    var nodeBounds = node.getBounds();
    map.fitBounds(nodeBounds.isValid() ? nodeBounds : bounds, { padding: [20, 20] });
    var name = function (f) { return f.properties.name; };
    gridgovMap.labelCells(map, data.children.length ? children : node, name);
    el.dataset.ready = "1";
  }

  function init() {
    if (typeof L === "undefined" || typeof gridgovMap === "undefined") { return; }
    document.querySelectorAll("[data-node-map]").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
