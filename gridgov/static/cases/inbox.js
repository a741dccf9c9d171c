/* The department inbox refreshes its list every few seconds (htmx polling), but not while the user is in it:
   a refresh under the keyboard focus or a half-chosen link would lose the place. (Written here rather than as
   an htmx trigger filter, which is eval and refused by the Content-Security-Policy.) */
(function () {
  "use strict";
  document.addEventListener("htmx:confirm", function (event) {
    var elt = event.detail.elt;
    if (!elt || !elt.hasAttribute || !elt.hasAttribute("data-hold-while-focused")) { return; }
    var active = document.activeElement;
    if (active && active !== document.body && elt.contains(active)) { event.preventDefault(); }
  });
})();
