/* Admin tree view of the territory: children are fetched when a node is first expanded. */
(function () {
  "use strict";

  // names and codes are user data: elements with text (gridgov/dom.js), never HTML
  function text(tag, className, value) {
    return gridgovDom.el(tag, { className: className || null }, value);
  }

  function Tree(root) {
    this.root = root;
    this.url = root.dataset.childrenUrl;
    this.retired = root.dataset.retired;
    this.labels = {};
    var ds = root.dataset;
    Object.keys(ds).forEach(function (k) {
      if (k.indexOf("label") === 0) { this.labels[k.slice(5).toLowerCase()] = ds[k]; }
    }, this);
    root.addEventListener("click", this.onClick.bind(this));
  }

  Tree.prototype.item = function (n) {
    var li = document.createElement("li");
    li.setAttribute("role", "treeitem");
    li.setAttribute("aria-expanded", "false");
    li.dataset.id = n.id;
    li.dataset.count = n.child_count;
    if (!n.active) { li.className = "retired"; }
    var row = document.createElement("span");
    row.className = "tree-row";
    if (n.child_count) {
      var button = text("button", "tree-toggle", "▸");
      button.type = "button";
      button.setAttribute("aria-label", this.labels.expand);
      row.appendChild(button);
    } else {
      row.appendChild(text("span", "tree-leaf", ""));
    }
    var link = text("a", "tree-name", n.name);
    link.href = n.change_url;
    row.appendChild(link);
    row.appendChild(text("span", "tree-code", n.code));
    row.appendChild(text("span", "tree-level", n.level));
    if (n.child_count) {
      var count = text("span", "tree-count", String(n.child_count));
      count.title = this.labels.children;
      row.appendChild(count);
    }
    if (!n.active) { row.appendChild(text("span", "tree-retired", this.labels.retired)); }
    if (n.card_url) {
      var card = text("a", "tree-card", this.labels.card);
      card.href = n.card_url;
      card.target = "_blank";
      card.rel = "noopener";
      row.appendChild(card);
    }
    li.appendChild(row);
    return li;
  };

  Tree.prototype.load = function (li) {
    var self = this;
    var status = text("div", "tree-status", this.labels.loading);
    li.appendChild(status);
    var url = this.url + "?parent=" + encodeURIComponent(li.dataset.id) + "&retired=" + this.retired;
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(response.status); }
        return response.json();
      })
      .then(function (data) {
        var ul = document.createElement("ul");
        ul.setAttribute("role", "group");
        data.children.forEach(function (n) { ul.appendChild(self.item(n)); });
        status.remove();
        li.appendChild(ul);
        if (data.truncated) { li.appendChild(text("div", "tree-status", self.labels.truncated)); }
        li.dataset.loaded = "1";
      })
      .catch(function () { status.textContent = self.labels.error; });
  };

  Tree.prototype.toggle = function (li, open) {
    var button = li.querySelector(":scope > .tree-row > .tree-toggle");
    if (!button) { return Promise.resolve(); }
    var expand = open === undefined ? li.getAttribute("aria-expanded") !== "true" : open;
    li.setAttribute("aria-expanded", expand ? "true" : "false");
    button.setAttribute("aria-expanded", expand ? "true" : "false");
    button.setAttribute("aria-label", expand ? this.labels.collapse : this.labels.expand);
    var group = li.querySelector(":scope > ul");
    if (group) { group.hidden = !expand; }
    if (expand && !li.dataset.loaded && !li.dataset.loading) {
      li.dataset.loading = "1";
      return this.load(li).then(function () { delete li.dataset.loading; });
    }
    return Promise.resolve();
  };

  Tree.prototype.onClick = function (event) {
    var button = event.target.closest(".tree-toggle");
    if (!button) { return; }
    event.preventDefault();
    this.toggle(button.closest("li"));
  };

  /* ?open=<id>: expand the chain of ancestors down to a node and highlight it */
  Tree.prototype.openPath = function (ids) {
    var self = this;
    var step = function (i) {
      if (i >= ids.length) { return; }
      var li = self.root.querySelector('li[data-id="' + ids[i] + '"]');
      if (!li) { step(i + 1); return; }
      if (i === ids.length - 1) {
        li.querySelector(".tree-name").focus();
        li.classList.add("selected");
        return;
      }
      self.toggle(li, true).then(function () { step(i + 1); });
    };
    step(0);
  };

  function init() {
    var root = document.getElementById("node-tree");
    if (!root) { return; }
    var tree = new Tree(root);
    var open = JSON.parse(root.dataset.open || "[]");
    if (open.length) { tree.openPath(open); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
