/* Every form of the working pages: a submit button shows that the action is running and cannot be pressed
   twice; a form marked data-keep keeps what was typed in the browser's session storage until it is sent,
   so nothing typed is lost if the page is reloaded or the network drops. */
(function () {
  "use strict";

  function busy(form, submitter) {
    // a disabled button is not sent: carry the pressed button's name and value (approve / reject ...) over
    if (submitter && submitter.name) {
      var carry = document.createElement("input");
      carry.type = "hidden";
      carry.name = submitter.name;
      carry.value = submitter.value;
      form.appendChild(carry);
    }
    form.querySelectorAll("button[type=submit], input[type=submit]").forEach(function (b) {
      b.disabled = true;
      if (b.dataset.busyLabel) { b.dataset.label = b.textContent; b.textContent = b.dataset.busyLabel; }
    });
    form.setAttribute("aria-busy", "true");
  }

  function keep(form) {
    var key = "gridgov-form:" + location.pathname + ":" + (form.id || form.getAttribute("action") || "");
    var saved = {};
    try { saved = JSON.parse(sessionStorage.getItem(key) || "{}"); } catch (e) { saved = {}; }
    Array.prototype.forEach.call(form.elements, function (f) {
      if (!f.name || f.type === "file" || f.type === "hidden" || f.type === "password" || f.name === "csrfmiddlewaretoken") { return; }
      if (saved[f.name] !== undefined && !f.value) { f.value = saved[f.name]; }
      f.addEventListener("input", function () {
        saved[f.name] = f.value;
        try { sessionStorage.setItem(key, JSON.stringify(saved)); } catch (e) { /* storage full or off */ }
      });
    });
    form.addEventListener("submit", function () { try { sessionStorage.removeItem(key); } catch (e) { /* off */ } });
  }

  function init(root) {
    (root || document).querySelectorAll("form").forEach(function (form) {
      if (form.dataset.formsReady) { return; }
      form.dataset.formsReady = "1";
      if (form.hasAttribute("data-keep")) { keep(form); }
      if (!form.hasAttribute("hx-post") && !form.hasAttribute("hx-get")) {
        form.addEventListener("submit", function (e) {
          if (!e.defaultPrevented) { busy(form, e.submitter); }
        });
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSettle", function (e) { init(e.target); });
  // a page restored from the back-forward cache gets its buttons back
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[aria-busy=true] [disabled]").forEach(function (b) { b.disabled = false; });
  });
})();
