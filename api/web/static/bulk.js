// The console's bulk invite page: upload a CSV file and see its check (the
// first rows as read, the number of people, every problem), then "Invite",
// "Invite without sending email" or "Upload another file", then follow the
// import to its end. Every step calls the /api/v1 endpoints a program
// would. The address carries the job (?job=), so a reload or a visit from
// the console's banner picks the same job up where it is.
(function () {
  "use strict";

  var root = document.getElementById("bulk");
  if (!root) return;
  var eventID = root.dataset.event;
  var base = "/api/v1/events/" + encodeURIComponent(eventID) + "/bulk-invites";
  var pageURL = "/console/events/" + encodeURIComponent(eventID) + "/bulk";
  var form = document.getElementById("bulk-upload");
  var report = document.getElementById("bulk-report");
  var progress = document.getElementById("bulk-progress");
  var done = document.getElementById("bulk-done");
  var current = null; // the job shown
  var polling = 0;

  function $(id) { return document.getElementById(id); }

  // call answers {ok, status, body}; only an unreachable gateway rejects.
  function call(method, url, body) {
    var opts = { method: method, headers: { "Accept": "application/json" }, credentials: "same-origin" };
    if (body instanceof FormData) {
      opts.body = body;
    } else if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(url, opts).then(function (r) {
      if (r.status === 204) return { ok: true, status: 204, body: {} };
      return r.text().then(function (t) {
        var j = null;
        try { j = JSON.parse(t); } catch (e) { /* said below */ }
        if (j === null) j = { error: { message: "the server answered " + r.status + " " + r.statusText } };
        return { ok: r.ok, status: r.status, body: j };
      });
    }, function () {
      throw { message: "the gateway could not be reached; check the connection and try again" };
    });
  }

  function errorText(err) {
    var msg = (err && err.message) || "the request failed";
    if (err && err.details && err.details.length > 1 && err.code !== "file_refused") {
      msg = err.details.map(function (d) { return d.field + ": " + d.message; }).join("; ");
    }
    return msg;
  }

  function showError(scope, err) {
    var box = scope.querySelector("[data-error]");
    box.textContent = typeof err === "string" ? err : errorText(err);
    box.hidden = false;
  }

  function clearErrors() {
    root.querySelectorAll("[data-error]").forEach(function (b) { b.hidden = true; b.textContent = ""; });
  }

  function show(part) {
    form.hidden = part !== form;
    report.hidden = part !== report;
    progress.hidden = part !== progress;
    done.hidden = part !== done;
  }

  function setJob(j) {
    current = j;
    root.dataset.job = j ? j.id : "";
    history.replaceState(null, "", j ? pageURL + "?job=" + encodeURIComponent(j.id) : pageURL);
  }

  function cell(tr, text) {
    var td = document.createElement("td");
    td.textContent = text === undefined || text === null ? "" : String(text);
    tr.appendChild(td);
    return td;
  }

  function people(n) { return n + (n === 1 ? " user" : " users"); }
  function num(n) { return Number(n || 0).toLocaleString("en"); }

  // renderReport shows what the check found. rep is null when the page was
  // opened on a checked job (the report is only in the upload's answer).
  function renderReport(j, rep, fileName) {
    clearErrors();
    $("bulk-file-name").textContent = fileName || "the file";
    var refused = j.status === "refused";
    var summary;
    if (rep) {
      summary = people(rep.rows) + " in the file";
      if (refused) summary = "This file cannot be imported.";
      else if (rep.problem_count === 0) summary += "; no problems found.";
      else summary += "; " + num(rep.valid) + " without problems, " + num(rep.problem_count) + (rep.problem_count === 1 ? " problem." : " problems.");
    } else if (refused) {
      summary = "This file could not be imported; the error report says why.";
    } else {
      summary = "The file was checked: " + people(j.total) + " in it. Invite them, or upload another file.";
    }
    $("bulk-summary").textContent = summary;

    var pbody = document.querySelector("#bulk-preview tbody");
    pbody.innerHTML = "";
    var rows = (rep && rep.preview) || [];
    rows.forEach(function (r) {
      var tr = document.createElement("tr");
      [r.line, r.email, r.first_name, r.last_name, r.title, r.company, r.speaker, r.moderator].forEach(function (v) { cell(tr, v); });
      pbody.appendChild(tr);
    });
    $("bulk-preview-box").hidden = rows.length === 0;

    var probs = (rep && rep.problems) || [];
    var qbody = document.querySelector("#bulk-problems tbody");
    qbody.innerHTML = "";
    probs.forEach(function (p) {
      var tr = document.createElement("tr");
      cell(tr, p.line > 0 ? p.line : "file");
      cell(tr, p.column || "");
      cell(tr, p.message);
      cell(tr, p.fix || "");
      qbody.appendChild(tr);
    });
    $("bulk-problems").hidden = probs.length === 0;
    var count = rep ? rep.problem_count : 0;
    $("bulk-problems-title").textContent = !rep ? "Problems" :
      num(count) + (count === 1 ? " problem" : " problems") + (probs.length < count ? " (the first " + num(probs.length) + " are shown; the CSV has them all)" : "");
    $("bulk-problems-box").hidden = rep ? count === 0 : false;
    $("bulk-problems-report").href = j.error_report;

    $("bulk-refused").hidden = !refused;
    $("bulk-some-refused").hidden = refused || !rep || count === 0;
    var canInvite = !refused && (!rep || rep.valid > 0);
    $("bulk-invite").hidden = refused;
    $("bulk-invite-silent").hidden = refused;
    $("bulk-invite").disabled = !canInvite;
    $("bulk-invite-silent").disabled = !canInvite;
    show(report);
  }

  function renderProgress(j) {
    var pct = Math.floor((j.progress || 0) * 100);
    $("bulk-bar").value = pct;
    $("bulk-progress-text").textContent = (j.status === "queued" ? "Starting: " : "") +
      num(j.processed) + " of " + num(j.total) + " rows done (" + pct + "%).";
    show(progress);
  }

  function renderDone(j) {
    var ok = j.status === "done";
    $("bulk-done-title").textContent = ok ? "Bulk invite has ended successfully" : "Bulk invite stopped";
    $("bulk-done-error").hidden = ok;
    $("bulk-done-error").textContent = ok ? "" : (j.error || "the import stopped") + ". The rows counted below were imported; the others were not.";
    var c = j.counts || {};
    $("bulk-added").textContent = num(c.added);
    $("bulk-updated").textContent = num(c.updated);
    $("bulk-unchanged").textContent = num(c.unchanged);
    $("bulk-refused-count").textContent = num(c.refused);
    $("bulk-errors-link").href = j.error_report;
    $("bulk-errors-link").textContent = "Download the error report (CSV)" + (c.refused ? "" : ": no row was refused");
    show(done);
  }

  // follow shows a job as it is now and keeps polling while it changes.
  function follow(j) {
    setJob(j);
    clearTimeout(polling);
    switch (j.status) {
      case "queued":
      case "running":
        renderProgress(j);
        break;
      case "done":
      case "failed":
        renderDone(j);
        return;
      case "checking":
        $("bulk-progress-title").textContent = "The file is being checked";
        renderProgress(j);
        break;
      case "ready":
      case "refused":
        renderReport(j, null, "");
        return;
      default: // discarded
        setJob(null);
        show(form);
        return;
    }
    polling = setTimeout(function () {
      call("GET", "/api/v1/jobs/" + encodeURIComponent(j.id)).then(function (r) {
        if (!r.ok) throw r.body.error;
        $("bulk-progress-title").textContent = "Users are being invited";
        follow(r.body);
      }).catch(function (e) {
        // A dropped connection does not end the import: try again.
        $("bulk-progress-text").textContent = "Could not get the progress (" + errorText(e) + "); retrying…";
        polling = setTimeout(function () { follow(j); }, 3000);
      });
    }, 1000);
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    clearErrors();
    var file = $("bulk-file").files[0];
    if (!file) { showError(form, "choose a CSV file first"); return; }
    var fd = new FormData();
    fd.append("file", file, file.name);
    var btn = $("bulk-check");
    btn.disabled = true;
    btn.textContent = "Checking…";
    call("POST", base, fd).then(function (r) {
      if (r.body.job && r.body.report) {
        setJob(r.body.job);
        renderReport(r.body.job, r.body.report, file.name);
        return;
      }
      showError(form, r.body.error);
    }).catch(function (e) { showError(form, e); }).then(function () {
      btn.disabled = false;
      btn.textContent = "Upload and check";
    });
  });

  function confirm(sendEmail) {
    clearErrors();
    var buttons = [$("bulk-invite"), $("bulk-invite-silent"), $("bulk-another")];
    buttons.forEach(function (b) { b.disabled = true; });
    call("POST", base + "/" + encodeURIComponent(current.id) + "/confirm", { send_email: sendEmail }).then(function (r) {
      if (!r.ok) throw r.body.error;
      $("bulk-progress-title").textContent = "Users are being invited";
      follow(r.body);
    }).catch(function (e) { showError(report, e); }).then(function () {
      buttons.forEach(function (b) { b.disabled = false; });
    });
  }
  $("bulk-invite").addEventListener("click", function () { confirm(true); });
  $("bulk-invite-silent").addEventListener("click", function () { confirm(false); });

  // Upload another file: a checked file nobody confirmed is discarded, so
  // it cannot be confirmed by mistake later.
  function again() {
    clearErrors();
    var j = current;
    var gone = j && j.status === "ready" ? call("DELETE", base + "/" + encodeURIComponent(j.id)) : Promise.resolve({ ok: true });
    gone.then(function (r) {
      if (!r.ok && r.status !== 409) throw r.body.error;
      setJob(null);
      form.reset();
      show(form);
      $("bulk-file").focus();
    }).catch(function (e) { showError(report, e); });
  }
  $("bulk-another").addEventListener("click", again);
  $("bulk-again").addEventListener("click", again);

  if (root.dataset.job) {
    call("GET", "/api/v1/jobs/" + encodeURIComponent(root.dataset.job)).then(function (r) {
      if (!r.ok) throw r.body.error;
      follow(r.body);
    }).catch(function (e) { show(form); showError(form, e); });
  } else {
    show(form);
  }
})();
