/* The printable cell card: its "Print" button opens the browser's print dialog (shown only with JavaScript;
   without it the browser's own menu prints the page). */
(function () {
  "use strict";
  document.querySelectorAll("button[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
})();
