// A group source's Directory sync page: Run now starts a sync through
// /api/v1/group-sources/{name}/run; while a run goes on, the page polls the
// source and moves the progress bar, then reloads to show the run. Confirm
// and Discard of a held sync ask in a dialog first.
(function () {
  "use strict";

  var page = document.getElementById("directory-sync");
  if (!page) return;
  var source = page.dataset.source;
  var base = "/api/v1/group-sources/" + encodeURIComponent(source);

  var call = window.Invitegate.call;

  function showError(box, err) {
    box.textContent = (err && err.message) || "the request failed";
    box.hidden = false;
  }

  var runButton = document.getElementById("run-now");
  var runError = document.getElementById("run-error");
  var progress = document.getElementById("sync-progress");

  function showProgress(run) {
    progress.hidden = false;
    document.getElementById("progress-seen").textContent = run.members_seen;
    var bar = document.getElementById("progress-bar");
    var of = document.getElementById("progress-of");
    if (run.expected_total > 0) {
      bar.max = run.expected_total;
      bar.value = Math.min(run.members_seen, run.expected_total);
      of.textContent = " of about " + run.expected_total;
    } else {
      bar.removeAttribute("value");
      of.textContent = "";
    }
  }

  // poll follows the run until it ends, then reloads the page with it.
  function poll(runID) {
    call("GET", "/api/v1/group-sources").then(function (j) {
      var src = (j.items || []).filter(function (s) { return s.name === source; })[0];
      var run = src && src.last_run;
      if (run && run.id === runID && run.status === "running") {
        showProgress(run);
        setTimeout(function () { poll(runID); }, 1000);
        return;
      }
      location.reload();
    }, function (err) {
      showError(runError, err);
      setTimeout(function () { poll(runID); }, 3000);
    });
  }

  runButton.addEventListener("click", function () {
    runError.hidden = true;
    runButton.disabled = true;
    call("POST", base + "/run").then(function (j) {
      showProgress(j.run);
      poll(j.run_id);
    }, function (err) {
      runButton.disabled = false;
      showError(runError, err);
    });
  });
  if (runButton.disabled) {
    // The page was rendered during a run: follow it.
    call("GET", "/api/v1/group-sources").then(function (j) {
      var src = (j.items || []).filter(function (s) { return s.name === source; })[0];
      if (src && src.last_run) poll(src.last_run.id);
    });
  }

  var held = document.getElementById("held-sync");
  if (!held) return;
  var heldID = held.dataset.held;
  var notice = document.getElementById("held-notice");

  document.querySelectorAll("dialog [data-close]").forEach(function (b) {
    b.addEventListener("click", function () { b.closest("dialog").close(); });
  });

  function decide(dialog, action, done) {
    var box = dialog.querySelector("[data-error]");
    box.hidden = true;
    call("POST", base + "/held/" + action, { held_id: heldID }).then(function (j) {
      dialog.close();
      held.remove();
      notice.textContent = done(j);
      notice.hidden = false;
    }, function (err) { showError(box, err); });
  }

  var confirmDialog = document.getElementById("confirm-dialog");
  var discardDialog = document.getElementById("discard-dialog");
  document.getElementById("held-confirm").addEventListener("click", function () { confirmDialog.showModal(); });
  document.getElementById("held-discard").addEventListener("click", function () { discardDialog.showModal(); });
  document.getElementById("confirm-yes").addEventListener("click", function () {
    decide(confirmDialog, "confirm", function (j) {
      return "Held sync confirmed: " + j.members_removed + " members and " + j.groups_removed + " groups removed.";
    });
  });
  document.getElementById("discard-yes").addEventListener("click", function () {
    decide(discardDialog, "discard", function () { return "Held sync discarded: nobody was removed."; });
  });
})();
