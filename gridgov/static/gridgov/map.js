/* Shared Leaflet set-up for every map of the working pages.

   gridgovMap.create(element, options) -> L.Map
     The base layers come from settings (MAP_TILES: a preset such as Tianditu or AMap, or MAP_TILE_URL),
     written into the page as the JSON script #map-tiles ({crs, layers: [{url, subdomains, max_zoom,
     attribution}]}); options.tiles gives them instead (the admin's map). Without layers the shapes draw on
     a plain background, so a map works on an offline intranet. A base map drawn in GCJ-02 (AMap) gets a
     map whose projection shifts our WGS-84 shapes the same way, so the cells sit on the streets they
     cover and a tap on the map still gives WGS-84. The element gets data-ready="1" once drawn (browser
     tests wait on it).
   gridgovMap.cellStyle(open, overdue) -> a path style: grey when nothing is open, blue with open cases,
     amber when one is yellow, red when one is overdue.
   gridgovMap.labelCells(map, geoJsonLayer, textOf) -> L.LayerGroup
     Writes each cell's name on the map (a permanent tooltip at the middle of its polygon, class
     "cell-name"), as text: textOf(feature) is user data and never parsed as HTML. A label is hidden while
     its cell is too small on the screen to carry it, and shown again when the map zooms in. Remove the
     group (map.removeLayer) before labelling a refilled layer again.
   gridgovMap.gcj02 -> { fromWgs(lat, lng), toWgs(lat, lng) } the two conversions, [lat, lng] out. */
(function () {
  "use strict";

  var COLOURS = { none: "#6b7785", open: "#0b5cad", yellow: "#c98a00", red: "#b3261e" };
  var LABEL_MIN_PX = { width: 44, height: 18 };

  // ------------------------------------------------------------------ GCJ-02 (the published conversion)
  var A = 6378245.0;
  var EE = 0.00669342162296594323;

  function outOfChina(lat, lng) {
    return lng < 72.004 || lng > 137.8347 || lat < 0.8293 || lat > 55.8271;
  }

  function offset(lat, lng) {
    var x = lng - 105.0, y = lat - 35.0, pi = Math.PI;
    var common = (20.0 * Math.sin(6.0 * x * pi) + 20.0 * Math.sin(2.0 * x * pi)) * 2.0 / 3.0;
    var dLat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x)) + common +
      (20.0 * Math.sin(y * pi) + 40.0 * Math.sin(y / 3.0 * pi)) * 2.0 / 3.0 +
      (160.0 * Math.sin(y / 12.0 * pi) + 320.0 * Math.sin(y * pi / 30.0)) * 2.0 / 3.0;
    var dLng = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x)) + common +
      (20.0 * Math.sin(x * pi) + 40.0 * Math.sin(x / 3.0 * pi)) * 2.0 / 3.0 +
      (150.0 * Math.sin(x / 12.0 * pi) + 300.0 * Math.sin(x / 30.0 * pi)) * 2.0 / 3.0;
    var rad = lat / 180.0 * pi;
    var magic = 1 - EE * Math.sin(rad) * Math.sin(rad);
    var sqrtMagic = Math.sqrt(magic);
    return [(dLat * 180.0) / ((A * (1 - EE)) / (magic * sqrtMagic) * pi),
            (dLng * 180.0) / (A / sqrtMagic * Math.cos(rad) * pi)];
  }

  function fromWgs(lat, lng) {
    if (outOfChina(lat, lng)) { return [lat, lng]; }
    var d = offset(lat, lng);
    return [lat + d[0], lng + d[1]];
  }

  function toWgs(lat, lng) {
    if (outOfChina(lat, lng)) { return [lat, lng]; }
    // no closed form: step the guess until its GCJ-02 image is the point (a few steps reach 1e-9 degree)
    var wLat = lat, wLng = lng;
    for (var i = 0; i < 10; i++) {
      var g = fromWgs(wLat, wLng);
      var eLat = g[0] - lat, eLng = g[1] - lng;
      wLat -= eLat;
      wLng -= eLng;
      if (Math.abs(eLat) < 1e-9 && Math.abs(eLng) < 1e-9) { break; }
    }
    return [wLat, wLng];
  }

  var crsGcj02 = null;

  function gcj02Crs() {
    if (crsGcj02) { return crsGcj02; }
    var mercator = L.Projection.SphericalMercator;
    crsGcj02 = L.extend({}, L.CRS.EPSG3857, {
      code: "GCJ02",
      projection: {
        R: mercator.R,
        MAX_LATITUDE: mercator.MAX_LATITUDE,
        bounds: mercator.bounds,
        project: function (latlng) {
          var g = fromWgs(latlng.lat, latlng.lng);
          return mercator.project(L.latLng(g[0], g[1]));
        },
        unproject: function (point) {
          var g = mercator.unproject(point);
          var w = toWgs(g.lat, g.lng);
          return L.latLng(w[0], w[1]);
        }
      }
    });
    return crsGcj02;
  }

  // ------------------------------------------------------------------ maps
  function pageTiles() {
    var node = document.getElementById("map-tiles");
    if (!node) { return null; }
    try { return JSON.parse(node.textContent); } catch (e) { return null; }
  }

  function create(el, options) {
    options = options || {};
    var tiles = options.tiles || pageTiles();
    var layers = tiles && tiles.layers ? tiles.layers : [];
    var map = L.map(el, {
      zoomSnap: 0.25, scrollWheelZoom: options.scrollWheelZoom !== false, preferCanvas: !!options.canvas,
      crs: layers.length && tiles.crs === "GCJ02" ? gcj02Crs() : L.CRS.EPSG3857
    });
    layers.forEach(function (layer) {
      L.tileLayer(layer.url, { attribution: layer.attribution || "", subdomains: layer.subdomains || "abc",
                               maxZoom: layer.max_zoom || 19 }).addTo(map);
    });
    if (!layers.length) { el.classList.add("plain"); }
    el.dataset.tiles = tiles && tiles.preset ? tiles.preset : (layers.length ? "custom" : "none");
    L.control.scale({ imperial: false }).addTo(map);
    return map;
  }

  function cellStyle(open, overdue, warning) {
    var colour = overdue ? COLOURS.red : warning ? COLOURS.yellow : open ? COLOURS.open : COLOURS.none;
    return { color: colour, weight: 1.5, fillColor: colour, fillOpacity: open || overdue ? 0.28 : 0.06 };
  }

  function labelCells(map, layer, textOf) {
    var group = L.layerGroup();
    var placed = [];

    function fit() {
      placed.forEach(function (p) {
        var node = p.label.getElement();
        if (!node) { return; }
        var b = p.shape.getBounds();
        var nw = map.latLngToLayerPoint(b.getNorthWest()), se = map.latLngToLayerPoint(b.getSouthEast());
        var small = Math.abs(se.x - nw.x) < LABEL_MIN_PX.width || Math.abs(se.y - nw.y) < LABEL_MIN_PX.height;
        node.classList.toggle("cell-name-hidden", small);
      });
    }

    // a label is placed in the map's view: wait for one
    map.whenReady(function () {
      group.addTo(map);
      layer.eachLayer(function (shape) {
        var text = shape.feature ? textOf(shape.feature) : null;
        if (text === null || text === undefined || text === "" || !shape.getBounds) { return; }
        var at;
        try { at = shape.getCenter(); } catch (e) { at = shape.getBounds().getCenter(); }
        var label = L.tooltip({ permanent: true, direction: "center", className: "cell-name", interactive: false })
          .setLatLng(at).setContent(gridgovDom.el("span", null, String(text)));
        group.addLayer(label);
        placed.push({ label: label, shape: shape });
      });
      fit();
      map.on("zoomend", fit);
      group.on("remove", function () { map.off("zoomend", fit); });
    });
    return group;
  }

  function ready(el) { el.dataset.ready = "1"; }

  window.gridgovMap = {
    create: create, cellStyle: cellStyle, labelCells: labelCells, colours: COLOURS, ready: ready,
    gcj02: { fromWgs: fromWgs, toWgs: toWgs }
  };
})();
