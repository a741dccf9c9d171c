/* The one way our scripts put text into the page: elements built with textContent, never HTML strings made
   from data. A cell's name, a case's matter or a worker's login may hold "<img onerror=…>"; through these
   helpers it stays text. Leaflet's bindTooltip / bindPopup take the element these return (a string given
   to them is parsed as HTML, so none of our scripts passes one).

   gridgovDom.el(tag, attrs, children) -> Element
     attrs: { className: "a b", href: "/x", dataset: { id: "3" }, "aria-label": "…" } (properties where the
     element has them, attributes otherwise; no "on…" handlers, no innerHTML, no style strings).
     children: a string / number (a text node), an Element, null (skipped) or an array of these.
   gridgovDom.text(el, value) -> el, its content replaced by value as text ("" for null / undefined).
   gridgovDom.clear(el) -> el without children. */
(function () {
  "use strict";

  var REFUSED = /^(on|innerhtml$|outerhtml$|style$|srcdoc$)/i;

  function append(parent, child) {
    if (child === null || child === undefined || child === false) { return; }
    if (Array.isArray(child)) { child.forEach(function (c) { append(parent, c); }); return; }
    if (child instanceof Node) { parent.appendChild(child); return; }
    parent.appendChild(document.createTextNode(String(child)));
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === null || value === undefined || value === false) { return; }
      if (REFUSED.test(name)) { throw new Error("gridgovDom.el: attribute " + name + " is not allowed"); }
      if (name === "dataset") {
        Object.keys(value).forEach(function (k) { node.dataset[k] = String(value[k]); });
      } else if (name === "className") {
        node.className = String(value);
      } else if (name === "href" || name === "src") {
        var url = String(value);
        // only paths of this site ("//host" and "/\host" are other sites) or http(s) URLs: a "javascript:"
        // URL from data is script too
        if (!/^(\/(?![\/\\])|https?:|#|\?)/i.test(url)) { throw new Error("gridgovDom.el: refused URL " + url); }
        node.setAttribute(name, url);
      } else {
        node.setAttribute(name, value === true ? "" : String(value));
      }
    });
    append(node, children);
    return node;
  }

  function clear(node) {
    while (node.firstChild) { node.removeChild(node.firstChild); }
    return node;
  }

  function text(node, value) {
    node.textContent = value === null || value === undefined ? "" : String(value);
    return node;
  }

  window.gridgovDom = { el: el, text: text, clear: clear };
})();
