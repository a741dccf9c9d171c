/* Shared Leaflet set-up for every map of the working pages.

   gridgovMap.create(element, options) -> L.Map
     The base layer comes from settings (MAP_TILE_URL / MAP_TILE_ATTRIBUTION, written on <body> as
     data-tile-url / data-tile-attribution). Without one the shapes draw on a plain background, so a map
     works on an offline intranet. The element gets data-ready="1" once drawn (browser tests wait on it).
   gridgovMap.cellStyle(open, overdue) -> a path style: grey when nothing is open, blue with open cases,
     amber when one is yellow, red when one is overdue. */
(function () {
  "use strict";

  var COLOURS = { none: "#6b7785", open: "#0b5cad", yellow: "#c98a00", red: "#b3261e" };

  function create(el, options) {
    options = options || {};
    var map = L.map(el, { zoomSnap: 0.25, scrollWheelZoom: options.scrollWheelZoom !== false, preferCanvas: !!options.canvas });
    var url = document.body.dataset.tileUrl;
    if (url) {
      L.tileLayer(url, { attribution: document.body.dataset.tileAttribution || "", maxZoom: 19 }).addTo(map);
    } else {
      el.classList.add("plain");
    }
    L.control.scale({ imperial: false }).addTo(map);
    return map;
  }

  function cellStyle(open, overdue, yellow) {
    var colour = overdue ? COLOURS.red : yellow ? COLOURS.yellow : open ? COLOURS.open : COLOURS.none;
    return { color: colour, weight: 1.5, fillColor: colour, fillOpacity: open || overdue ? 0.28 : 0.06 };
  }

  function ready(el) { el.dataset.ready = "1"; }

  window.gridgovMap = { create: create, cellStyle: cellStyle, colours: COLOURS, ready: ready };
})();
