// A closed event's Event access tab: Grant access and Remove access ask
// for confirmation in a dialog, call the /api/v1 endpoints a program
// would, then say it is done and update the row and the banner in place;
// the access settings save as they are switched.
(function () {
  "use strict";

  var page = document.getElementById("event-access");
  if (!page) return;
  var eventID = page.dataset.event;
  var base = "/api/v1/events/" + encodeURIComponent(eventID) + "/access";

  var call = window.Invitegate.call;

  function showError(scope, err) {
    var box = scope.querySelector("[data-error]");
    box.textContent = (err && err.message) || "the request failed";
    box.hidden = false;
  }

  var notice = document.getElementById("access-notice");
  function say(text) {
    if (!notice) return;
    notice.textContent = text;
    notice.hidden = false;
  }

  // The filter applies as it is chosen; the search applies on Enter.
  var filter = document.getElementById("group-filter");
  if (filter) filter.addEventListener("change", function () { filter.form.submit(); });

  var dialogs = { grant: document.getElementById("grant-dialog"), revoke: document.getElementById("revoke-dialog") };
  var pending = null; // the row whose change waits for confirmation

  document.querySelectorAll("dialog [data-close]").forEach(function (b) {
    b.addEventListener("click", function () { b.closest("dialog").close(); pending = null; });
  });

  function setRow(tr, granted) {
    tr.dataset.granted = granted ? "true" : "false";
    tr.querySelector("td.granted").textContent = granted ? "Yes" : "No";
    var cell = tr.querySelector("td.actions");
    cell.innerHTML = "";
    var b = document.createElement("button");
    b.type = "button";
    b.className = granted ? "small danger" : "small";
    b.dataset.access = granted ? "revoke" : "grant";
    b.textContent = granted ? "Remove access" : "Grant access";
    cell.appendChild(b);
  }

  function setBanner(delta) {
    var n = document.getElementById("granted-count");
    if (!n) return;
    var v = Math.max(0, parseInt(n.textContent, 10) + delta);
    n.textContent = v;
    document.getElementById("granted-noun").textContent = v === 1 ? "group" : "groups";
  }

  page.addEventListener("click", function (ev) {
    var b = ev.target.closest("button[data-access]");
    if (!b) return;
    pending = b.closest("tr");
    var d = dialogs[b.dataset.access];
    d.querySelectorAll("[data-name]").forEach(function (el) { el.textContent = pending.dataset.name; });
    var err = d.querySelector("[data-error]");
    err.hidden = true;
    d.showModal();
  });

  function confirmed(kind) {
    var d = dialogs[kind];
    return function () {
      if (!pending) return;
      var tr = pending;
      var url = base + "/groups/" + encodeURIComponent(tr.dataset.group);
      call(kind === "grant" ? "PUT" : "DELETE", url).then(function () {
        d.close();
        pending = null;
        var was = tr.dataset.granted === "true";
        var now = kind === "grant";
        setRow(tr, now);
        if (was !== now) setBanner(now ? 1 : -1);
        say(now ? "Access granted to " + tr.dataset.name + "." : "Access removed from " + tr.dataset.name + ".");
      }).catch(function (e) { showError(d, e); });
    };
  }
  document.getElementById("grant-confirm").addEventListener("click", confirmed("grant"));
  document.getElementById("revoke-confirm").addEventListener("click", confirmed("revoke"));

  // Access settings.
  var settings = document.getElementById("access-settings");
  var saved = document.getElementById("settings-saved");
  function save(body, reload) {
    settings.querySelector("[data-error]").hidden = true;
    saved.hidden = true;
    return call("PUT", base + "/settings", body).then(function (s) {
      document.getElementById("closed-toggle").checked = s.closed;
      document.getElementById("additional-users").checked = s.additional_users;
      if (reload) { location.reload(); return; }
      saved.textContent = "Saved: additional users " + (s.additional_users ? "on" : "off") + ".";
      saved.hidden = false;
    }).catch(function (e) { showError(settings, e); });
  }
  document.getElementById("closed-toggle").addEventListener("change", function (ev) {
    save({ closed: ev.target.checked }, true);
  });
  document.getElementById("additional-users").addEventListener("change", function (ev) {
    save({ additional_users: ev.target.checked }, false);
  });
})();
