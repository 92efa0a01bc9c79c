// Event site: entering. Opening the page changes nothing on the server (a
// mail scanner only GETs); this script, run by the attendee's browser,
// posts the visit once per tab, the way pressing "Enter the event" does.
(function () {
  "use strict";
  var form = document.getElementById("enter-form");
  if (!form || !form.hasAttribute("data-auto-enter")) return;
  var slug = document.getElementById("event").dataset.slug;
  var key = "ig-entered-" + slug;
  try { if (sessionStorage.getItem(key)) { form.hidden = false; return; } } catch (e) { /* storage off: enter anyway */ }
  fetch(form.action, { method: "POST", credentials: "same-origin", headers: { "Accept": "application/json" } })
    .then(function (r) { return r.json().then(function (j) { if (!r.ok) throw (j && j.error) || {}; return j; }); })
    .then(function (v) {
      try { sessionStorage.setItem(key, "1"); } catch (e) { /* ignore */ }
      var done = document.getElementById("entered");
      var kind = v.kind === "pre_event" ? "a pre-event visit" : "a during-event visit";
      done.textContent = "You entered the event: " + kind + " at " + new Date(v.at).toLocaleTimeString() + ".";
      done.hidden = false;
      done.dataset.kind = v.kind;
      form.hidden = true;
      var st = document.getElementById("attendee-status");
      if (st) st.textContent = v.status_label;
      var box = document.getElementById("attendee");
      if (box) { box.dataset.status = v.status; box.dataset.detail = v.detail; }
    })
    .catch(function (e) {
      var done = document.getElementById("entered");
      done.textContent = (e && e.message) || "Could not enter; press the button to try again.";
      done.className = "notice error";
      done.hidden = false;
    });
})();
