/* Residents' report form: "use my position" fills the hidden lon/lat fields from the browser's
   geolocation. Without JavaScript or geolocation the button stays hidden and the place is typed. */
(function () {
  "use strict";

  function init() {
    var use = document.getElementById("use-position");
    var forget = document.getElementById("forget-position");
    var lon = document.getElementById("id_lon");
    var lat = document.getElementById("id_lat");
    var status = document.getElementById("position-status");
    if (!use || !lon || !lat || !status || !("geolocation" in navigator)) { return; }

    function show(text, ok) {
      status.textContent = text;
      status.classList.toggle("ok", !!ok);
      forget.hidden = !(lon.value && lat.value);
    }

    use.hidden = false;
    if (lon.value && lat.value) { show(use.dataset.kept, true); }

    use.addEventListener("click", function () {
      use.disabled = true;
      show(use.dataset.looking, false);
      navigator.geolocation.getCurrentPosition(function (position) {
        lon.value = position.coords.longitude.toFixed(6);
        lat.value = position.coords.latitude.toFixed(6);
        use.disabled = false;
        show(use.dataset.found.replace("%(m)s", String(Math.round(position.coords.accuracy || 0))), true);
      }, function (error) {
        use.disabled = false;
        show(error && error.code === 1 ? use.dataset.denied : use.dataset.failed, false);
      }, {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
    });

    forget.addEventListener("click", function () {
      lon.value = "";
      lat.value = "";
      show("", false);
      use.focus();
    });
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
