// The console's event pages: creating an event, and the All users list's
// invite form, row actions and dialogs. Every change calls the /api/v1
// endpoints a program would; after it, the changed row is fetched again as
// the server renders it, so a row looks the same however it got there.
(function () {
  "use strict";

  var call = window.Invitegate.call;

  // errorText puts an API error in words, every field at fault included.
  function errorText(err) {
    var msg = (err && err.message) || "the request failed";
    if (err && err.details && err.details.length > 1) {
      msg = err.details.map(function (d) { return d.field + ": " + d.message; }).join("; ");
    }
    return msg;
  }

  function showError(scope, err) {
    var box = scope.querySelector("[data-error]");
    box.textContent = typeof err === "string" ? err : errorText(err);
    box.hidden = false;
  }

  function clearError(scope) {
    var box = scope.querySelector("[data-error]");
    if (box) { box.hidden = true; box.textContent = ""; }
  }

  function codePoints(s) { return Array.from(s).length; }

  // Time zones: the offset of tz from UTC at the instant ms, in ms.
  function zoneOffset(ms, tz) {
    var parts = {};
    new Intl.DateTimeFormat("en-US", {
      timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit"
    }).formatToParts(new Date(ms)).forEach(function (p) { parts[p.type] = p.value; });
    var asUTC = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second);
    return asUTC - Math.floor(ms / 1000) * 1000;
  }

  // zonedToISO reads a datetime-local value as a wall-clock time in tz.
  function zonedToISO(local, tz) {
    var wall = Date.parse(local + (local.length === 16 ? ":00Z" : "Z"));
    if (isNaN(wall)) return null;
    var t = wall - zoneOffset(wall, tz);
    var again = wall - zoneOffset(t, tz);
    return new Date(again).toISOString();
  }

  function validZone(tz) {
    try { new Intl.DateTimeFormat("en-US", { timeZone: tz }); return true; } catch (e) { return false; }
  }

  // ---- New event ----
  var newEvent = document.getElementById("new-event");
  if (newEvent) {
    var tzInput = document.getElementById("event-tz");
    if (!tzInput.value) {
      try { tzInput.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"; } catch (e) { tzInput.value = "UTC"; }
    }
    newEvent.addEventListener("submit", function (ev) {
      ev.preventDefault();
      clearError(newEvent);
      var tz = tzInput.value.trim();
      var problems = [];
      if (!document.getElementById("event-name").value.trim()) problems.push("name: name is required");
      if (!tz) problems.push("time_zone: time zone is required, e.g. Europe/Paris");
      else if (!validZone(tz)) problems.push("time_zone: unknown time zone \"" + tz + "\": use an IANA name such as America/New_York");
      var starts = document.getElementById("event-starts").value, ends = document.getElementById("event-ends").value;
      if (!starts) problems.push("starts_at: start time is required");
      if (!ends) problems.push("ends_at: end time is required");
      if (problems.length) { showError(newEvent, problems.join("; ")); return; }
      var body = {
        name: document.getElementById("event-name").value.trim(),
        slug: document.getElementById("event-slug").value.trim(),
        starts_at: zonedToISO(starts, tz),
        ends_at: zonedToISO(ends, tz),
        time_zone: tz,
        login_method: document.getElementById("event-login").value,
        registration: document.getElementById("event-registration").value,
        confirm_email: document.getElementById("event-confirm").checked,
        closed: document.getElementById("event-closed").checked
      };
      call("POST", "/api/v1/events", body).then(function (e) {
        location.href = "/console/events/" + encodeURIComponent(e.id);
      }).catch(function (e) { showError(newEvent, e); });
    });
  }

  // ---- All users ----
  var list = document.getElementById("all-users");
  if (!list) return;
  var eventID = list.dataset.event;
  var tab = list.dataset.tab;
  var base = "/api/v1/events/" + encodeURIComponent(eventID) + "/attendees";
  var tbody = document.querySelector("#attendees tbody");
  var notice = document.getElementById("notice");

  function say(text, isError) {
    notice.textContent = text;
    notice.className = "notice " + (isError ? "error" : "ok");
    notice.hidden = false;
  }

  function rowOf(id) { return tbody.querySelector('tr[data-attendee="' + id + '"]'); }

  // "Resend to these": one job for the whole filtered list (every page),
  // after a confirmation; its progress is polled until it ends, and what
  // it did (resent, skipped and why) is shown.
  var resendBtn = document.getElementById("resend-these");
  if (resendBtn) {
    var box = document.getElementById("resend-box");
    var bar = document.getElementById("resend-progress");
    var status = document.getElementById("resend-status");
    resendBtn.addEventListener("click", function () {
      var n = box.dataset.total;
      if (!window.confirm("Email the " + n + " attendee(s) of this list again? Only those whose status allows “Re-send email” are sent one; the others are skipped.")) return;
      resendBtn.disabled = true;
      var q = box.dataset.query;
      call("POST", base + "/resend" + (q ? "?" + q : "")).then(function (job) {
        bar.hidden = false;
        var poll = function () {
          call("GET", "/api/v1/jobs/" + encodeURIComponent(job.id)).then(function (j) {
            bar.value = j.progress;
            status.textContent = j.processed + " of " + j.total + " done";
            if (!j.finished) { setTimeout(poll, 500); return; }
            var c = j.counts || {}, why = [];
            Object.keys(c.skipped_by || {}).forEach(function (k) { why.push(c.skipped_by[k] + " " + k.replace(/_/g, " ")); });
            status.textContent = j.status === "done"
              ? "Resent to " + (c.resent || 0) + "; skipped " + (c.skipped || 0) + (why.length ? " (" + why.join(", ") + ")" : "") + "."
              : "The resend stopped: " + (j.error || j.status) + ".";
            status.dataset.done = j.status;
          }).catch(function (e) { status.textContent = errorText(e); setTimeout(poll, 2000); });
        };
        poll();
      }).catch(function (e) { resendBtn.disabled = false; say(errorText(e), true); });
    });
  }

  function setTotal(delta) {
    var t = document.getElementById("total");
    if (t) t.textContent = String(Math.max(0, parseInt(t.textContent, 10) + delta));
  }

  // refreshRow replaces (or, for a new person, prepends) a row with the
  // server's rendering; a row that no longer exists is taken out.
  function refreshRow(id, isNew) {
    var url = "/console/events/" + encodeURIComponent(eventID) + "/rows/" + encodeURIComponent(id) + "?tab=" + encodeURIComponent(tab);
    var busy = rowOf(id);
    // A row being replaced says so, so nobody acts on the copy about to go.
    if (busy) busy.setAttribute("aria-busy", "true");
    var settle = function () { if (busy && busy.isConnected) busy.removeAttribute("aria-busy"); };
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } }).then(function (r) {
      var old = rowOf(id);
      if (r.status === 404) { if (old) old.remove(); return; }
      if (!r.ok) throw { message: "the list could not be refreshed (" + r.status + "); reload the page" };
      return r.text().then(function (html) {
        var holder = document.createElement("tbody");
        holder.innerHTML = html.trim();
        var tr = holder.querySelector("tr");
        if (!tr) return;
        if (isNew) tr.classList.add("new-row");
        tr.querySelectorAll("time[data-local]").forEach(function (t) {
          var d = new Date(t.getAttribute("datetime"));
          if (!isNaN(d)) t.title = d.toLocaleString();
        });
        if (old) old.replaceWith(tr); else tbody.insertBefore(tr, tbody.firstChild);
        var empty = document.getElementById("no-rows");
        if (empty) empty.hidden = true;
      });
    }).then(settle, function (e) { settle(); throw e; });
  }

  // Bio counters and speaker details.
  function bindCounter(area) {
    var out = document.getElementById(area.dataset.counter);
    var max = parseInt(area.form.dataset.maxBio, 10);
    var update = function () {
      var n = codePoints(area.value);
      out.textContent = n.toLocaleString("en") + " / " + max.toLocaleString("en") + " characters" + (n > max ? ": " + (n - max).toLocaleString("en") + " too many" : "");
      out.classList.toggle("error", n > max);
    };
    area.addEventListener("input", update);
    update();
    return update;
  }

  function bioProblem(form) {
    var area = form.querySelector("textarea[name=bio]");
    var max = parseInt(form.dataset.maxBio, 10);
    var n = codePoints(area.value);
    return n > max ? "bio: bio is " + n + " characters; at most " + max + " are allowed" : "";
  }

  var imageTypes = { "image/png": true, "image/jpeg": true, "image/webp": true };

  // imageProblem checks a chosen file before it is uploaded; the server
  // checks its content again.
  function imageProblem(form, file) {
    if (!file) return "";
    var max = parseInt(form.dataset.maxImage, 10);
    if (!imageTypes[file.type]) return "image: " + file.name + " is " + (file.type || "not an image") + "; choose a PNG, JPEG or WebP image";
    if (file.size > max) return "image: " + file.name + " is " + (file.size / 1048576).toFixed(1) + " MB; at most " + (max / 1048576) + " MB is allowed";
    if (file.size === 0) return "image: " + file.name + " is empty";
    return "";
  }

  function bindImage(form) {
    var input = form.querySelector("[data-image-input]");
    var info = form.querySelector("[data-image-info]");
    var preview = form.querySelector("[data-image-preview]");
    input.addEventListener("change", function () {
      var file = input.files[0];
      preview.hidden = true;
      info.hidden = true;
      info.classList.remove("error");
      if (!file) return;
      var bad = imageProblem(form, file);
      if (bad) { info.textContent = bad; info.classList.add("error"); info.hidden = false; return; }
      var reader = new FileReader();
      reader.onload = function () {
        var img = new Image();
        img.onload = function () {
          info.textContent = file.name + ": " + img.naturalWidth + "x" + img.naturalHeight + " pixels" +
            (img.naturalWidth === 500 && img.naturalHeight === 500 ? "" : " (500x500 is recommended)");
          info.hidden = false;
          preview.src = reader.result;
          preview.hidden = false;
        };
        img.onerror = function () {
          info.textContent = "image: " + file.name + " cannot be read as an image";
          info.classList.add("error");
          info.hidden = false;
        };
        img.src = reader.result;
      };
      reader.readAsDataURL(file);
    });
  }

  function bindDetails(form) {
    var details = form.querySelector("[data-speaker-details]");
    var boxes = ["speaker", "moderator"].map(function (n) { return form.querySelector("input[name=" + n + "]"); });
    var update = function () { details.hidden = !boxes.some(function (b) { return b.checked; }); };
    boxes.forEach(function (b) { b.addEventListener("change", update); });
    update();
    return update;
  }

  function upload(file) {
    var fd = new FormData();
    fd.append("image", file, file.name);
    return call("POST", "/api/v1/images", fd);
  }

  // profileOf reads the fields an invitation and an edit share. Speaker
  // details belong to speakers and moderators: without either role they are
  // sent empty (an edit that takes the role away clears them).
  function profileOf(form) {
    var v = function (n) { var el = form.querySelector("[name=" + n + "]"); return el ? el.value.trim() : ""; };
    var checked = function (n) { var el = form.querySelector("input[name=" + n + "]"); return !!(el && el.checked); };
    var p = { first_name: v("first_name"), last_name: v("last_name"), speaker: checked("speaker"), moderator: checked("moderator"),
      title: "", company: "", bio: "", image_ref: "" };
    if (p.speaker || p.moderator) {
      p.title = v("title");
      p.company = v("company");
      p.bio = form.querySelector("textarea[name=bio]").value;
    }
    return p;
  }

  // ---- Invite one person ----
  var invite = document.getElementById("invite-form");
  var resetInviteCounter = bindCounter(document.getElementById("invite-bio"));
  var resetInviteDetails = bindDetails(invite);
  bindImage(invite);
  var busy = false;
  invite.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (busy) return;
    clearError(invite);
    var sendEmail = !(ev.submitter && ev.submitter.id === "invite-silent");
    var body = profileOf(invite);
    body.email = invite.querySelector("[name=email]").value.trim();
    body.send_email = sendEmail;
    var file = (body.speaker || body.moderator) ? document.getElementById("invite-image").files[0] : null;
    var problems = [bioProblem(invite), imageProblem(invite, file)].filter(Boolean);
    if (!body.speaker && !body.moderator) { problems = problems.filter(function (p) { return p.indexOf("bio:") !== 0; }); }
    if (problems.length) { showError(invite, problems.join("; ")); return; }
    busy = true;
    var step = file ? upload(file).then(function (img) { body.image_ref = img.ref; }) : Promise.resolve();
    step.then(function () { return call("POST", base, body); }).then(function (a) {
      var name = ((a.first_name || "") + " " + (a.last_name || "")).trim();
      say(sendEmail ? "Invited " + name + " <" + a.email + ">; the invitation email is on its way." :
        "Added " + name + " <" + a.email + "> without an email.", false);
      invite.reset();
      invite.querySelectorAll("[data-image-preview],[data-image-info]").forEach(function (el) { el.hidden = true; });
      if (tab === "speakers") document.getElementById("invite-speaker").checked = true;
      if (tab === "moderators") document.getElementById("invite-moderator").checked = true;
      resetInviteCounter();
      resetInviteDetails();
      setTotal(1);
      return refreshRow(a.id, true);
    }).catch(function (e) { showError(invite, e); }).then(function () { busy = false; });
  });

  // ---- Dialogs ----
  function openDialog(d, name) {
    d.querySelectorAll("[data-name]").forEach(function (el) { el.textContent = name; });
    clearError(d);
    d.showModal();
  }
  document.querySelectorAll("dialog [data-close]").forEach(function (b) {
    b.addEventListener("click", function () { b.closest("dialog").close(); });
  });

  // Edit.
  var editDialog = document.getElementById("edit-dialog");
  var editForm = document.getElementById("edit-form");
  var resetEditCounter = bindCounter(document.getElementById("edit-bio"));
  var resetEditDetails = bindDetails(editForm);
  bindImage(editForm);
  var editing = null;

  function openEdit(id, name) {
    return call("GET", base + "/" + encodeURIComponent(id)).then(function (a) {
      editing = a;
      editForm.reset();
      editForm.querySelectorAll("[data-image-preview],[data-image-info]").forEach(function (el) { el.hidden = true; });
      editDialog.querySelector("[data-email]").textContent = a.email;
      document.getElementById("edit-first").value = a.first_name || "";
      document.getElementById("edit-last").value = a.last_name || "";
      document.getElementById("edit-speaker").checked = !!a.speaker;
      document.getElementById("edit-moderator").checked = !!a.moderator;
      document.getElementById("edit-organizer").checked = !!a.organizer;
      document.getElementById("edit-title").value = a.title || "";
      document.getElementById("edit-company").value = a.company || "";
      document.getElementById("edit-bio").value = a.bio || "";
      var cur = document.getElementById("edit-current-image");
      cur.hidden = !a.image_ref;
      if (a.image_ref) document.getElementById("edit-image-current").src = a.image_url || ("/media/images/" + a.image_ref);
      resetEditCounter();
      resetEditDetails();
      openDialog(editDialog, name);
    });
  }

  editForm.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (!editing) return;
    clearError(editForm);
    var body = profileOf(editForm);
    body.organizer = document.getElementById("edit-organizer").checked;
    var file = (body.speaker || body.moderator) ? document.getElementById("edit-image").files[0] : null;
    var problems = [(body.speaker || body.moderator) ? bioProblem(editForm) : "", imageProblem(editForm, file)].filter(Boolean);
    if (problems.length) { showError(editForm, problems.join("; ")); return; }
    if ((body.speaker || body.moderator) && !document.getElementById("edit-image-remove").checked) body.image_ref = editing.image_ref || "";
    var id = editing.id;
    var step = file ? upload(file).then(function (img) { body.image_ref = img.ref; }) : Promise.resolve();
    step.then(function () { return call("PATCH", base + "/" + encodeURIComponent(id), body); }).then(function (a) {
      editDialog.close();
      say("Saved " + ((a.first_name || "") + " " + (a.last_name || "")).trim() + ".", false);
      return refreshRow(id);
    }).catch(function (e) { showError(editForm, e); });
  });

  // Remove.
  var removeDialog = document.getElementById("remove-dialog");
  var removing = null;
  document.getElementById("remove-confirm").addEventListener("click", function () {
    if (!removing) return;
    var r = removing;
    call("DELETE", base + "/" + encodeURIComponent(r.id)).then(function () {
      removeDialog.close();
      var tr = rowOf(r.id);
      if (tr) tr.remove();
      setTotal(-1);
      say("Removed " + r.name + "; their access has ended.", false);
    }).catch(function (e) { showError(removeDialog, e); });
  });

  // Analytics.
  var analyticsDialog = document.getElementById("analytics-dialog");
  function fmt(t) {
    var d = new Date(t);
    return isNaN(d) ? String(t) : d.toLocaleString();
  }
  function table(caption, heads, rows) {
    var t = document.createElement("table");
    t.className = "list";
    var c = t.createCaption();
    c.textContent = caption;
    var hr = t.createTHead().insertRow();
    heads.forEach(function (h) { var th = document.createElement("th"); th.textContent = h; hr.appendChild(th); });
    var b = t.createTBody();
    rows.forEach(function (cells) {
      var r = b.insertRow();
      cells.forEach(function (x) { r.insertCell().textContent = x; });
    });
    return t;
  }
  var visitKinds = { pre_event: "Pre-event", during_event: "During the event" };
  var loginMethods = { magic_link: "Emailed link", sso: "Single sign-on" };
  function showAnalytics(id, name) {
    return call("GET", base + "/" + encodeURIComponent(id) + "/analytics").then(function (j) {
      var box = document.getElementById("analytics-body");
      box.textContent = "";
      var visits = j.visits || [], logins = j.logins || [];
      var pre = visits.filter(function (v) { return v.kind === "pre_event"; }).length;
      var sum = document.createElement("p");
      sum.id = "analytics-summary";
      sum.textContent = visits.length + " visit" + (visits.length === 1 ? "" : "s") + " (" + pre + " before the event, " +
        (visits.length - pre) + " during it), " + logins.length + " login" + (logins.length === 1 ? "" : "s") + ".";
      box.appendChild(sum);
      if (visits.length) {
        box.appendChild(table("Visits", ["When", "Visit"], visits.map(function (v) { return [fmt(v.at), visitKinds[v.kind] || v.kind]; })));
      }
      if (logins.length) {
        box.appendChild(table("Logins", ["When", "Method"], logins.map(function (l) { return [fmt(l.at), loginMethods[l.method] || l.method]; })));
      }
      openDialog(analyticsDialog, name);
    });
  }

  // Login link.
  var linkDialog = document.getElementById("link-dialog");
  function showLoginLink(id, name) {
    return call("POST", base + "/" + encodeURIComponent(id) + "/actions/generate_login_link").then(function (j) {
      document.getElementById("login-link").value = j.url;
      document.getElementById("copy-login-link").textContent = "Copy";
      document.getElementById("login-link-expires").textContent = j.expires_at ? "It works until " + fmt(j.expires_at) + "." : "";
      openDialog(linkDialog, name);
    });
  }

  var done = {
    resend_invitation: function (n) { return "The invitation to " + n + " was sent again."; },
    resend_registration_confirmation: function (n) { return "The registration confirmation for " + n + " was sent again."; },
    block_from_chat: function (n) { return n + " is blocked from the chat."; }
  };

  // The actions menu.
  tbody.addEventListener("click", function (ev) {
    var b = ev.target.closest("button[data-ev-action]");
    if (!b) return;
    var tr = b.closest("tr");
    var menu = b.closest("details");
    if (menu) menu.open = false;
    var id = tr.dataset.attendee, name = tr.dataset.name, act = b.dataset.evAction;
    var p;
    switch (act) {
      case "edit": p = openEdit(id, name); break;
      case "view_analytics": p = showAnalytics(id, name); break;
      case "generate_login_link": p = showLoginLink(id, name); break;
      case "remove":
        removing = { id: id, name: name };
        openDialog(removeDialog, name);
        return;
      default:
        p = call("POST", base + "/" + encodeURIComponent(id) + "/actions/" + encodeURIComponent(act)).then(function () {
          say(done[act] ? done[act](name) : "Done.", false);
          return refreshRow(id);
        });
    }
    p.catch(function (e) {
      say(b.textContent + " for " + name + " failed: " + errorText(e), true);
      // The row may be out of date (its status changed meanwhile).
      refreshRow(id).catch(function () {});
    });
  });

  // One open actions menu at a time.
  document.addEventListener("toggle", function (ev) {
    var d = ev.target;
    if (d.tagName !== "DETAILS" || !d.open || !d.classList.contains("menu")) return;
    document.querySelectorAll("details.menu[open]").forEach(function (o) { if (o !== d) o.open = false; });
  }, true);
})();
