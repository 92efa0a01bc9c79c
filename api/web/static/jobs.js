// The console's job banner: while a bulk invite of the account runs, every
// console page says "Users are being invited" with its progress and a link
// to follow it, so the organizer can keep working meanwhile. When a job
// this tab saw running ends, the banner says so once, with its counts.
(function () {
  "use strict";

  var box = document.getElementById("job-banner");
  if (!box || location.pathname.indexOf("/console") !== 0) return;
  var KEY = "invitegate.watchedJobs";

  function watched() {
    try { return JSON.parse(sessionStorage.getItem(KEY) || "[]"); } catch (e) { return []; }
  }
  function setWatched(ids) {
    try { sessionStorage.setItem(KEY, JSON.stringify(ids)); } catch (e) { /* private mode: no end notice */ }
  }

  function get(url) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } }).then(function (r) {
      return r.ok ? r.json() : null;
    }, function () { return null; });
  }

  function num(n) { return Number(n || 0).toLocaleString("en"); }

  // The bulk invite page shows its own job in full; the banner leaves it out.
  function shownByPage(id) {
    var page = document.getElementById("bulk");
    return page && page.dataset.job === id;
  }

  function line(cls) {
    var p = document.createElement("p");
    p.className = cls;
    box.appendChild(p);
    return p;
  }

  function link(p, href, text, id) {
    var a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    if (id) a.id = id;
    p.appendChild(a);
    return a;
  }

  function render(running, ended) {
    box.innerHTML = "";
    running.forEach(function (j) {
      var pct = Math.floor((j.progress || 0) * 100);
      var p = line("job-running");
      p.dataset.job = j.id;
      p.appendChild(document.createTextNode("Users are being invited" + (j.event_name ? " to " + j.event_name : "") + ": " +
        num(j.processed) + " of " + num(j.total) + " (" + pct + "%). "));
      var bar = document.createElement("progress");
      bar.max = 100;
      bar.value = pct;
      p.appendChild(bar);
      p.appendChild(document.createTextNode(" "));
      link(p, j.console, "Follow it");
    });
    ended.forEach(function (j) {
      var c = j.counts || {};
      var p = line("job-ended" + (j.status === "done" ? "" : " error"));
      p.dataset.job = j.id;
      p.appendChild(document.createTextNode((j.status === "done" ? "Bulk invite has ended successfully" : "Bulk invite stopped") +
        (j.event_name ? " (" + j.event_name + ")" : "") + ": " + num(c.added) + " added, " + num(c.updated) + " updated, " +
        num(c.unchanged) + " unchanged, " + num(c.refused) + " refused. "));
      link(p, j.console, "Details");
      p.appendChild(document.createTextNode(" · "));
      link(p, j.error_report, "Error report").setAttribute("download", "");
    });
    box.hidden = box.childElementCount === 0;
  }

  function poll() {
    get("/api/v1/jobs?status=queued&status=running&limit=10").then(function (list) {
      if (!list) return;
      var running = list.items.filter(function (j) { return j.kind === "bulk_invite" && !shownByPage(j.id); });
      // A job the page itself follows is announced there, not here.
      var ids = running.map(function (j) { return j.id; });
      var before = watched();
      var gone = before.filter(function (id) { return ids.indexOf(id) < 0; });
      setWatched(ids);
      Promise.all(gone.map(function (id) { return get("/api/v1/jobs/" + encodeURIComponent(id)); })).then(function (ended) {
        ended = ended.filter(function (j) { return j && j.finished && !shownByPage(j.id); });
        render(running, ended);
        if (running.length) setTimeout(poll, 2000);
      });
    });
  }
  poll();
})();
