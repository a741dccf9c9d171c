/* The export control of the base-data lists: a file written at once comes back as a download and the page
   stays where it is, so the submit button that forms.js disabled is given back after a moment. */
(function () {
  "use strict";
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.matches || !form.matches("form[data-export]")) { return; }
    window.setTimeout(function () {
      form.querySelectorAll("button[disabled]").forEach(function (b) {
        b.disabled = false;
        if (b.dataset.label) { b.textContent = b.dataset.label; }
      });
      form.removeAttribute("aria-busy");
    }, 4000);
  });
})();
