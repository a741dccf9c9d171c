/* Forms of the management pages: fields marked data-when="value" are shown only while the radio choice
   named by the form's first radio group has that value (without JavaScript every field shows). */
(function () {
  "use strict";
  document.querySelectorAll("form").forEach(function (form) {
    var dependent = form.querySelectorAll("[data-when]");
    if (!dependent.length) { return; }
    var radios = form.querySelectorAll("input[type=radio]");
    if (!radios.length) { return; }
    var name = radios[0].name;
    function sync() {
      var checked = form.querySelector("input[type=radio][name='" + name + "']:checked");
      var value = checked ? checked.value : "";
      dependent.forEach(function (el) { el.hidden = el.dataset.when !== value; });
    }
    form.querySelectorAll("input[type=radio][name='" + name + "']").forEach(function (r) { r.addEventListener("change", sync); });
    sync();
  });
})();

/* A form with several submit buttons (approve / reject) says which was pressed in a hidden field of the
   same name: the shared forms.js disables the buttons while the form is sent, and a disabled button's own
   name and value are not sent. */
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[type=submit][name][value]");
    if (!button || !button.form) { return; }
    var hidden = button.form.querySelector("input[type=hidden][name='" + button.name + "']");
    if (hidden) { hidden.value = button.value; }
  });
})();
