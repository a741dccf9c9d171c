/* The dashboard's charts (ECharts, SVG renderer) and the small map of the cells below, drawn from the data
   embedded in the page (the same rows as the tables under each chart). Each chart container gets
   data-ready="1" and data-points (the number of categories drawn) once set; clicking a bar of the cells
   chart or a cell on the map drills down to it. */
(function () {
  "use strict";

  var charts = JSON.parse(document.getElementById("dashboard-charts").textContent);
  var mapData = JSON.parse(document.getElementById("dashboard-map").textContent);
  var T = JSON.parse(document.getElementById("dashboard-texts").textContent);
  var PALETTE = ["#0b5cad", "#c98a00", "#185c2a", "#b3261e", "#6b4e9b"];
  var drawn = [];

  function draw(key, spec) {
    var el = document.getElementById("chart-" + key);
    if (!el) return;
    // many bars read better lying down, in a container as tall as they need
    var horizontal = spec.type === "bar" && key !== "satisfaction" && spec.labels.length > 8;
    if (horizontal) el.style.height = Math.max(288, spec.labels.length * 34 + 60) + "px";
    var chart = echarts.init(el, null, { renderer: "svg" });
    var category = { type: "category", data: spec.labels, axisLabel: { interval: 0, hideOverlap: true } };
    var value = { type: "value", minInterval: 1 };
    var option = {
      color: PALETTE,
      animation: false,
      aria: { enabled: true },
      // drawn inside the chart's SVG as text: ECharts' HTML tooltip is markup with inline styles, which the
      // Content-Security-Policy refuses (and which would carry the cells' names as HTML)
      tooltip: { trigger: "axis", confine: true, renderMode: "richText" },
      legend: { top: 0, type: "scroll" },
      grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
      xAxis: horizontal ? value : category,
      yAxis: horizontal ? Object.assign({ inverse: true }, category) : value,
      series: spec.series.map(function (s) {
        return { name: s.name, type: spec.type, data: s.data, barMaxWidth: 40, cursor: spec.links && spec.links.some(Boolean) ? "pointer" : "default",
                 emphasis: { focus: "series" }, showSymbol: spec.type === "line" };
      })
    };
    chart.setOption(option);
    if (spec.links && spec.links.some(Boolean)) {
      // a click anywhere in a cell's band of the grid (not only on its bar) opens that cell
      chart.getZr().on("click", function (event) {
        var point = [event.offsetX, event.offsetY];
        if (!chart.containPixel("grid", point)) return;
        var at = chart.convertFromPixel({ seriesIndex: 0 }, point);
        var index = Math.round(horizontal ? at[1] : at[0]);
        var link = spec.links[index];
        if (link) window.location.href = link;
      });
    }
    el.dataset.points = String(spec.labels.length);
    el.dataset.series = String(spec.series.length);
    el.dataset.ready = "1";
    drawn.push(chart);
  }

  Object.keys(charts).forEach(function (key) { draw(key, charts[key]); });
  window.addEventListener("resize", function () { drawn.forEach(function (c) { c.resize(); }); });

  // the small map of the cells below, coloured by closure or on-time rate
  var mapEl = document.getElementById("child-map");
  if (!mapEl || !mapData.features.length) return;
  var select = document.getElementById("child-map-metric");
  var RATE_COLOURS = { 4: "#185c2a", 3: "#5c9e3a", 2: "#c98a00", 1: "#b3261e", none: "#8a94a3" };

  function rateClass(v) {
    if (v === null || v === undefined) return "none";
    return v >= 95 ? 4 : v >= 85 ? 3 : v >= 70 ? 2 : 1;
  }

  function metric() { return select ? select.value : "closure"; }

  function style(feature) {
    var c = RATE_COLOURS[rateClass(feature.properties[metric()])];
    return { color: c, weight: 1.5, fillColor: c, fillOpacity: 0.45, className: "child-cell" };
  }

  // a cell's name is user data: the tooltip is built as elements with text, never parsed as HTML
  function label(p) {
    var v = p[metric()];
    var el = gridgovDom.el;
    return el("span", null, [el("strong", null, p.name), el("br"),
      T[metric()] + ": " + (v === null || v === undefined ? T.none : v + " %"), el("br"), T.drill]);
  }

  var map = gridgovMap.create(mapEl, { scrollWheelZoom: false });
  var layer = L.geoJSON(mapData, {
    style: style,
    onEachFeature: function (feature, lyr) {
      lyr.bindTooltip(function () { return label(feature.properties); }, { sticky: true });
      if (feature.properties.url) lyr.on("click", function () { window.location.href = feature.properties.url; });
    }
  }).addTo(map);
  var bounds = layer.getBounds();
  if (bounds.isValid()) map.fitBounds(bounds, { padding: [8, 8] });
  gridgovMap.labelCells(map, layer, function (f) { return f.properties.name; });
  if (select) select.addEventListener("change", function () { layer.setStyle(style); });
  mapEl.dataset.cells = String(mapData.features.length);
  gridgovMap.ready(mapEl);
})();
