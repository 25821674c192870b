// The console's only script (served locally; the page CSP allows 'self' scripts only).
// Progressive: every page works without it. On a request page it polls the progress endpoint
// every 2 seconds and updates the store table and the status in place, with textContent only
// (never markup from the server), and stops once the request has ended.
(function () {
  "use strict";
  var table = document.getElementById("progress");
  if (!table || !window.fetch) { return; }
  var url = table.getAttribute("data-progress-url");
  var live = document.getElementById("live");
  var PERIOD = 2000;
  var FIELDS = ["status_label", "attempts", "matched", "affected", "residual", "error_type"];

  function shown(value) { return value === null || value === undefined ? "\u2014" : String(value); }

  function row(store) {
    var rows = table.querySelectorAll("tr[data-store]");
    for (var i = 0; i < rows.length; i++) {
      if (rows[i].getAttribute("data-store") === store) { return rows[i]; }
    }
    return null;
  }

  function update(p) {
    var status = document.getElementById("status");
    if (status) {
      status.textContent = p.status_label + (p.overdue && !p.terminal ? " (overdue)" : "");
      status.className = "status-" + p.status + (p.overdue && !p.terminal ? " overdue" : "");
    }
    var left = document.getElementById("days-left");
    if (left && p.days_left !== null) {
      left.textContent = p.days_left < 0 ? (-p.days_left) + " days overdue" : p.days_left + " days left";
    }
    var missing = false;
    p.stores.forEach(function (s) {
      var tr = row(s.store);
      if (!tr) { missing = true; return; }
      FIELDS.forEach(function (f) {
        var cell = tr.querySelector('[data-field="' + f + '"]');
        if (cell) { cell.textContent = f === "error_type" ? (s[f] || "") : shown(s[f]); }
      });
      var st = tr.querySelector('[data-field="status_label"]');
      if (st) { st.className = "status-" + s.status; }
    });
    if (live) { live.textContent = missing ? "New stores started: refresh to see them." : "Live."; }
    return p.terminal;
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
      .then(function (p) {
        if (update(p)) {
          if (live) { live.textContent = "The request has ended: refresh for its results."; }
          // Decisions offered while it ran no longer apply (the workflow would refuse them).
          var decisions = document.getElementById("decisions");
          if (decisions) { decisions.hidden = true; }
          return;
        }
        window.setTimeout(poll, PERIOD);
      })
      .catch(function () {
        if (live) { live.textContent = "Live updates paused; use Refresh."; }
        window.setTimeout(poll, PERIOD * 5);
      });
  }

  if (table.getAttribute("data-ended") !== "1") { window.setTimeout(poll, PERIOD); }
})();
