/* The grid worker's phone pages (/m/).

   - Position: asked of the phone only when the worker presses a button ("Use my position" on the report
     page, "Share my position" on the home page), never silently; sent to /m/position/ at most once a
     minute (the server keeps at most one a minute too).
   - Report page: a map of my cells where a tap sets the point; the matter chosen in a combobox searching
     /m/matters/?q= (Chinese, pinyin, initials, code), keyboard usable (arrows, Enter, Escape), which
     fills the plain <select> the page falls back to without JavaScript; the matter's own questions;
     previews of the chosen photos; the "after" photos shown when "handled on the spot" is ticked. */
(function () {
  "use strict";

  var texts = {};
  try { texts = JSON.parse(document.getElementById("field-texts").textContent); } catch (e) { texts = {}; }

  function t(key, values) {
    var s = texts[key] || key;
    Object.keys(values || {}).forEach(function (k) { s = s.split("{" + k + "}").join(values[k]); });
    return s;
  }

  function csrf(form) {
    var input = form && form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // ------------------------------------------------------------------ position reports
  var SENT_KEY = "gridgov-field:position-sent-at";
  var EVERY_MS = 60 * 1000;

  function sentRecently() {
    var at = 0;
    try { at = parseInt(sessionStorage.getItem(SENT_KEY) || "0", 10); } catch (e) { at = 0; }
    return Date.now() - at < EVERY_MS;
  }

  /* Send one position; resolves to "shared", "too_soon" or "not_sent". */
  function sendPosition(url, token, coords) {
    if (!url || sentRecently()) { return Promise.resolve("too_soon"); }
    try { sessionStorage.setItem(SENT_KEY, String(Date.now())); } catch (e) { /* storage off */ }
    var body = new FormData();
    body.append("lon", coords.longitude.toFixed(7));
    body.append("lat", coords.latitude.toFixed(7));
    if (coords.accuracy !== null && coords.accuracy !== undefined) { body.append("accuracy", Math.round(coords.accuracy)); }
    return fetch(url, { method: "POST", body: body, credentials: "same-origin", headers: { "X-CSRFToken": token } })
      .then(function (r) { return r.status === 204 ? "shared" : r.status === 429 ? "too_soon" : "not_sent"; })
      .catch(function () { return "not_sent"; });
  }

  function geoError(err) {
    return err && err.code === 1 ? t("denied") : t("unavailable");
  }

  function timeNow() {
    var d = new Date();
    return ("0" + d.getHours()).slice(-2) + ":" + ("0" + d.getMinutes()).slice(-2);
  }

  /* Home page: share the position while the page is open, after the worker pressed the button. */
  function initShare() {
    var form = document.querySelector("[data-position-form]");
    if (!form) { return; }
    var button = form.querySelector("[data-share-position]");
    var status = form.querySelector("[data-position-status]");
    if (!("geolocation" in navigator)) { status.textContent = t("unavailable"); button.disabled = true; return; }
    var watch = null;
    function stop() {
      if (watch !== null) { navigator.geolocation.clearWatch(watch); }
      watch = null;
      button.setAttribute("aria-pressed", "false");
      button.textContent = button.dataset.labelOff;
    }
    button.addEventListener("click", function () {
      if (watch !== null) { stop(); status.textContent = t("stopped"); return; }
      status.textContent = t("waiting");
      button.setAttribute("aria-pressed", "true");
      button.textContent = button.dataset.labelOn;
      watch = navigator.geolocation.watchPosition(function (pos) {
        sendPosition(form.getAttribute("action"), csrf(form), pos.coords).then(function (result) {
          if (result === "shared") { status.textContent = t("shared", { time: timeNow() }); }
          else if (result === "not_sent") { status.textContent = t("not_sent"); }
        });
      }, function (err) { stop(); status.textContent = geoError(err); },
      { enableHighAccuracy: true, maximumAge: 30000, timeout: 30000 });
    });
    window.addEventListener("pagehide", stop);
  }

  // ------------------------------------------------------------------ report page: where
  function initWhere(form) {
    var lon = form.querySelector("[data-lon]"), lat = form.querySelector("[data-lat]");
    var accuracy = form.querySelector("[data-accuracy]");
    var text = form.querySelector("[data-position-text]");
    var locate = form.querySelector("[data-locate]");
    var el = form.querySelector("[data-map]");
    var map = null, marker = null, circle = null;

    function fixed(v) { return Number(v).toFixed(6); }

    function show(lonV, latV, acc, tapped) {
      lon.value = Number(lonV).toFixed(7);
      lat.value = Number(latV).toFixed(7);
      accuracy.value = acc === null || acc === undefined || acc === "" ? "" : String(Math.round(acc));
      var words = tapped ? t("tapped", { lon: fixed(lonV), lat: fixed(latV) })
        : t("position", { lon: fixed(lonV), lat: fixed(latV) });
      if (!tapped && accuracy.value) { words += " " + t("accuracy", { m: accuracy.value }); }
      text.textContent = words;
      if (!map) { return; }
      var at = L.latLng(Number(latV), Number(lonV));
      if (!marker) {
        marker = L.circleMarker(at, { radius: 9, color: "#b3261e", weight: 3, fillColor: "#fff", fillOpacity: 1 }).addTo(map);
      } else {
        marker.setLatLng(at);
      }
      if (circle) { map.removeLayer(circle); circle = null; }
      if (!tapped && accuracy.value) {
        circle = L.circle(at, { radius: Number(accuracy.value), color: "#0b5cad", weight: 1, fillOpacity: 0.08 }).addTo(map);
      }
    }

    var cells = [];
    try { cells = JSON.parse(document.getElementById("field-cells").textContent) || []; } catch (e) { cells = []; }
    if (el && window.L && window.gridgovMap && cells.length) {
      map = gridgovMap.create(el, { scrollWheelZoom: false });
      var layer = L.geoJSON({
        type: "FeatureCollection",
        features: cells.map(function (c) {
          return { type: "Feature", geometry: c.geometry, properties: { name: c.name, code: c.code } };
        })
      }, {
        style: function () { return { color: "#0b5cad", weight: 2, fillColor: "#0b5cad", fillOpacity: 0.08 }; },
        onEachFeature: function (f, l) { l.bindTooltip(gridgovDom.el("span", null, f.properties.name), { sticky: true }); }
      }).addTo(map);
      map.fitBounds(layer.getBounds(), { padding: [8, 8] });
      gridgovMap.labelCells(map, layer, function (f) { return f.properties.name; });
      map.on("click", function (e) { show(e.latlng.lng, e.latlng.lat, null, true); });
      gridgovMap.ready(el);
    } else if (el) {
      el.hidden = true;
    }
    if (lon.value && lat.value) { show(lon.value, lat.value, accuracy.value, !accuracy.value); }

    if (locate) {
      if (!("geolocation" in navigator)) { locate.disabled = true; }
      locate.addEventListener("click", function () {
        text.textContent = t("waiting");
        navigator.geolocation.getCurrentPosition(function (pos) {
          show(pos.coords.longitude, pos.coords.latitude, pos.coords.accuracy, false);
          if (map) { map.setView([pos.coords.latitude, pos.coords.longitude], Math.max(map.getZoom(), 16)); }
          sendPosition(form.dataset.positionUrl, csrf(form), pos.coords);
        }, function (err) { text.textContent = geoError(err); },
        { enableHighAccuracy: true, maximumAge: 30000, timeout: 20000 });
      });
    }
  }

  // ------------------------------------------------------------------ report page: matter
  function attributeField(spec) {
    var name = "attr_" + spec.code;
    var label = spec.description || spec.code;
    var wrap;
    function labelText(target) {
      target.textContent = label;
      if (spec.required) {
        var req = document.createElement("span");
        req.className = "required";
        req.textContent = " (" + (texts.required || "*") + ")";
        target.appendChild(req);
      }
    }
    if (spec.datatype === "multivaluelist") {
      wrap = document.createElement("fieldset");
      wrap.className = "field";
      var legend = document.createElement("legend");
      labelText(legend);
      wrap.appendChild(legend);
      (spec.values || []).forEach(function (v, i) {
        var row = document.createElement("div");
        row.className = "field-check";
        var box = document.createElement("input");
        box.type = "checkbox"; box.name = name; box.value = v.key; box.id = name + "-" + (i + 1);
        var l = document.createElement("label");
        l.htmlFor = box.id; l.textContent = v.name || v.key;
        row.appendChild(box); row.appendChild(l); wrap.appendChild(row);
      });
      return wrap;
    }
    wrap = document.createElement("div");
    wrap.className = "field";
    var lab = document.createElement("label");
    lab.htmlFor = name;
    labelText(lab);
    wrap.appendChild(lab);
    var input;
    if (spec.datatype === "singlevaluelist") {
      input = document.createElement("select");
      var empty = document.createElement("option");
      empty.value = ""; empty.textContent = t("choose");
      input.appendChild(empty);
      (spec.values || []).forEach(function (v) {
        var o = document.createElement("option");
        o.value = v.key; o.textContent = v.name || v.key;
        input.appendChild(o);
      });
    } else {
      input = document.createElement("input");
      input.type = spec.datatype === "number" ? "number" : spec.datatype === "datetime" ? "datetime-local" : "text";
      if (spec.datatype === "number") { input.step = "any"; input.inputMode = "decimal"; }
    }
    input.id = name; input.name = name;
    wrap.appendChild(input);
    return wrap;
  }

  function initMatter(form) {
    var combo = form.querySelector("[data-combo]");
    var selectWrap = form.querySelector("[data-matter-select]");
    var input = document.getElementById("matter-search");
    var list = document.getElementById("matter-options");
    var select = document.getElementById("matter");
    var status = form.querySelector("[data-combo-status]");
    var attributes = form.querySelector("[data-attributes]");
    if (!combo || !input || !select || !window.fetch) { return; }
    combo.hidden = false;
    selectWrap.hidden = true;
    var url = form.dataset.mattersUrl;
    var items = [], active = -1, timer = null, seq = 0, chosenText = "";

    var current = select.options[select.selectedIndex];
    if (current && current.value) { chosenText = current.textContent.trim(); input.value = chosenText; }

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }
    function highlight() {
      Array.prototype.forEach.call(list.children, function (li, i) {
        li.setAttribute("aria-selected", i === active ? "true" : "false");
        if (i === active) { input.setAttribute("aria-activedescendant", li.id); li.scrollIntoView({ block: "nearest" }); }
      });
    }
    function choose(i) {
      var m = items[i];
      if (!m) { return; }
      var option = Array.prototype.find.call(select.options, function (o) { return o.value === m.code; });
      if (!option) {
        option = document.createElement("option");
        option.value = m.code; option.textContent = m.code + " " + m.name;
        select.appendChild(option);
      }
      select.value = m.code;
      select.dispatchEvent(new Event("input", { bubbles: true }));
      select.dispatchEvent(new Event("change", { bubbles: true }));
      chosenText = m.code + " " + m.name;
      input.value = chosenText;
      close();
      status.textContent = t("chosen", { name: chosenText });
      attributes.textContent = "";
      (m.attributes || []).forEach(function (spec) { attributes.appendChild(attributeField(spec)); });
    }
    function render(data) {
      items = data;
      list.textContent = "";
      data.forEach(function (m, i) {
        var li = document.createElement("li");
        li.id = "matter-option-" + i;
        li.setAttribute("role", "option");
        li.dataset.code = m.code;
        var name = document.createElement("span");
        name.className = "combo-name";
        name.textContent = m.name;
        var meta = document.createElement("span");
        meta.className = "combo-meta";
        meta.textContent = m.code + " · " + m.category;
        li.appendChild(name); li.appendChild(meta);
        li.addEventListener("mousedown", function (e) { e.preventDefault(); });
        li.addEventListener("click", function () { choose(i); });
        list.appendChild(li);
      });
      active = data.length ? 0 : -1;
      list.hidden = !data.length;
      input.setAttribute("aria-expanded", data.length ? "true" : "false");
      highlight();
      status.textContent = data.length ? t("found", { n: data.length }) : t("none");
    }
    function search() {
      var q = input.value.trim();
      if (!q) { close(); items = []; status.textContent = ""; return; }
      var mine = ++seq;
      fetch(url + "?q=" + encodeURIComponent(q), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : []; })
        .then(function (data) { if (mine === seq) { render(data); } })
        .catch(function () { /* offline: the worker can type again */ });
    }
    input.addEventListener("input", function () {
      if (select.value && input.value !== chosenText) {
        select.value = "";  // typing again un-chooses: the report cannot go with a matter the field no longer shows
        attributes.textContent = "";
      }
      clearTimeout(timer);
      timer = setTimeout(search, 150);
    });
    input.addEventListener("keydown", function (e) {
      var open = !list.hidden && items.length;
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        if (!open) { if (items.length) { list.hidden = false; input.setAttribute("aria-expanded", "true"); } else { search(); return; } }
        active = (active + (e.key === "ArrowDown" ? 1 : -1) + items.length) % items.length;
        highlight();
      } else if (e.key === "Enter") {
        e.preventDefault();  // never sends the form from the search field
        if (open && active >= 0) { choose(active); } else { clearTimeout(timer); search(); }
      } else if (e.key === "Escape") {
        if (open) { e.preventDefault(); close(); }
      }
    });
    input.addEventListener("blur", function () { setTimeout(close, 150); });
  }

  // ------------------------------------------------------------------ report page: photos, on the spot
  function initPhotos(form) {
    form.querySelectorAll("input[type=file]").forEach(function (input) {
      var previews = form.querySelector("[data-previews-for='" + input.name + "']");
      if (!previews || !window.URL || !URL.createObjectURL) { return; }
      input.addEventListener("change", function () {
        previews.textContent = "";
        Array.prototype.forEach.call(input.files || [], function (file) {
          if (!/^image\//.test(file.type)) { return; }
          var li = document.createElement("li");
          var img = document.createElement("img");
          img.alt = file.name;
          img.src = URL.createObjectURL(file);
          img.addEventListener("load", function () { URL.revokeObjectURL(img.src); });
          li.appendChild(img);
          previews.appendChild(li);
        });
      });
    });
  }

  function initSelfHandled(form) {
    var box = form.querySelector("#self_handled");
    var after = form.querySelector("[data-after]");
    if (!box || !after) { return; }
    function sync() { after.hidden = !box.checked; }
    box.addEventListener("change", sync);
    sync();
  }

  function init() {
    document.querySelectorAll("[data-js-only]").forEach(function (el) { el.hidden = false; });
    initShare();
    var form = document.getElementById("field-report");
    if (form) {
      initWhere(form);
      initMatter(form);
      initPhotos(form);
      initSelfHandled(form);
      var summary = document.getElementById("report-errors");
      if (summary) { summary.focus(); }
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
