/* The staff case pages: the action forms loaded into the case page, the case's map, the matter finder of the
   register form, and the filter bar folded on phones. Everything works without it (links and plain forms). */
(function () {
  "use strict";

  // Fragments answered with 4xx (a form with errors, "this case changed meanwhile", "not allowed") are
  // shown like any other; only server errors are not swapped in.
  if (window.htmx) {
    window.htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "4..", swap: true, error: false },
      { code: "...", swap: false, error: true }
    ];
  }

  // ------------------------------------------------------------------ find an option of a long <select>
  function selectFilter(input) {
    var select = document.getElementById(input.dataset.filterSelect);
    if (!select || input.dataset.ready) { return; }
    input.dataset.ready = "1";
    input.hidden = false;
    var original = Array.prototype.map.call(select.children, function (node) { return node.cloneNode(true); });

    function matches(option, words) {
      if (!option.value) { return true; }
      var text = ((option.dataset.search || "") + " " + option.textContent).toLowerCase();
      return words.every(function (w) { return text.indexOf(w) !== -1; });
    }

    input.addEventListener("input", function () {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      var chosen = select.value;
      select.textContent = "";
      original.forEach(function (node) {
        if (node.tagName === "OPTGROUP") {
          var group = node.cloneNode(false);
          Array.prototype.forEach.call(node.children, function (option) {
            if (matches(option, words) || option.value === chosen) { group.appendChild(option.cloneNode(true)); }
          });
          if (group.children.length) { select.appendChild(group); }
        } else if (matches(node, words) || node.value === chosen) {
          select.appendChild(node.cloneNode(true));
        }
      });
      select.value = chosen;
    });
  }

  // a matter brings its default report level and handling mode (the registrar may still change them)
  function matterDefaults(form) {
    var matter = form.querySelector("select[name=matter]");
    var level = form.querySelector("select[name=report_level]");
    var mode = form.querySelector("select[name=handling_mode]");
    if (!matter || !level || !mode || matter.dataset.ready) { return; }
    matter.dataset.ready = "1";
    matter.addEventListener("change", function () {
      var option = matter.options[matter.selectedIndex];
      if (!option) { return; }
      if (option.dataset.level) { level.value = option.dataset.level; }
      if (option.dataset.mode) { mode.value = option.dataset.mode; }
    });
  }

  function initForms(root) {
    root.querySelectorAll("input[data-filter-select]").forEach(selectFilter);
    root.querySelectorAll("form.case-action-form").forEach(matterDefaults);
  }

  // ------------------------------------------------------------------ the case's map
  function initMap() {
    var el = document.getElementById("case-map");
    var source = document.getElementById("case-map-data");
    if (!el || !source || !window.L || !window.gridgovMap) { return; }
    var data = JSON.parse(source.textContent);
    var map = window.gridgovMap.create(el, { scrollWheelZoom: false });
    var point = [data.lat, data.lon];
    var bounds = L.latLngBounds([point, point]);
    var cell = null;
    if (data.cell) {
      cell = L.geoJSON(data.cell, { style: { color: "#0b5cad", weight: 1.5, fillColor: "#0b5cad", fillOpacity: 0.08 } });
      bounds.extend(cell.getBounds());
    }
    // the view first, then the shapes drawn in it
    map.fitBounds(bounds, { padding: [16, 16], maxZoom: 17 });
    if (cell) { cell.addTo(map); }
    L.circleMarker(point, { radius: 8, color: "#7a1a14", weight: 2, fillColor: "#b3261e", fillOpacity: 0.85 })
      .bindTooltip(gridgovDom.el("span", null, data.label)).addTo(map);
    window.gridgovMap.ready(el);
  }

  // ------------------------------------------------------------------ action forms in the case page
  function initActions() {
    var panel = document.getElementById("case-action-panel");
    if (!panel) { return; }
    document.querySelectorAll(".case-buttons [data-action]").forEach(function (button) {
      button.addEventListener("click", function () {
        document.querySelectorAll(".case-buttons [aria-current]").forEach(function (b) { b.removeAttribute("aria-current"); });
        button.setAttribute("aria-current", "true");
      });
    });
    document.body.addEventListener("htmx:afterSwap", function (event) {
      if (event.detail.target !== panel) { return; }
      initForms(panel);
      var first = panel.querySelector("textarea, select, input:not([type=hidden]), .errors, h3");
      if (first) {
        if (!first.matches("textarea, select, input")) { first.setAttribute("tabindex", "-1"); }
        first.focus({ preventScroll: true });
        panel.scrollIntoView({ block: "nearest", behavior: "smooth" });
      }
    });
  }

  // ------------------------------------------------------------------ the filter bar folds on a phone
  function foldFilters() {
    var box = document.querySelector("details.case-filter-box");
    if (box && window.matchMedia("(max-width: 40rem)").matches && !box.querySelector(".errors")) {
      box.open = false;
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    initForms(document);
    initMap();
    initActions();
    foldFilters();
  });
})();
