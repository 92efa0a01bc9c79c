// The LTI tool's pages inside the LMS: the platform's postMessage storage
// (LTI Client Side postMessage Storage 0.1) for a login's state and nonce,
// the end of a dynamic registration, the console's registration URL, and
// the deep linking answer posted back to the LMS by a form that submits
// itself (its button stays for a browser that runs no script).
(function () {
  "use strict";

  // storageFrame is the platform's storage frame lti_storage_target names.
  function storageFrame(target) {
    if (target === "_parent") return window.parent;
    try { return window.parent.frames[target] || null; } catch (e) { return null; }
  }

  // ask sends one message to the platform's storage and calls back with
  // its answer (null on an error, a refusal or no answer within 3 s).
  // Only the platform's origin is written to or believed.
  function ask(target, origin, msg, done) {
    var frame = storageFrame(target);
    if (!frame || frame === window) { done(null); return; }
    msg.message_id = "ig-" + Math.random().toString(36).slice(2) + Date.now().toString(36);
    var finished = false;
    function finish(v) {
      if (finished) return;
      finished = true;
      window.removeEventListener("message", onMessage);
      clearTimeout(timer);
      done(v);
    }
    function onMessage(ev) {
      var d = ev.data;
      if (ev.origin !== origin || !d || d.subject !== msg.subject + ".response" || d.message_id !== msg.message_id) return;
      finish(d.error ? null : d);
    }
    window.addEventListener("message", onMessage);
    var timer = setTimeout(function () { finish(null); }, 3000);
    try { frame.postMessage(msg, origin); } catch (e) { finish(null); }
  }

  var put = document.getElementById("lti-storage-put");
  if (put) {
    var p = put.dataset;
    ask(p.target, p.origin, { subject: "lti.put_data", key: p.stateKey, value: p.state }, function (a) {
      if (!a) { failed(); return; }
      ask(p.target, p.origin, { subject: "lti.put_data", key: p.nonceKey, value: p.nonce }, function (b) {
        if (!b) { failed(); return; }
        location.replace(p.redirect);
      });
    });
  }
  function failed() {
    document.getElementById("lti-storage-wait").hidden = true;
    document.getElementById("lti-storage-failed").hidden = false;
  }

  var get = document.getElementById("lti-storage-get");
  if (get) {
    var g = get.dataset;
    var form = document.getElementById("lti-storage-form");
    // Whatever the storage answers, the gateway decides: without the
    // login's values it refuses the launch with a page saying why.
    ask(g.target, g.origin, { subject: "lti.get_data", key: g.stateKey }, function (a) {
      if (a && typeof a.value === "string") form.elements.stored_state.value = a.value;
      ask(g.target, g.origin, { subject: "lti.get_data", key: g.nonceKey }, function (b) {
        if (b && typeof b.value === "string") form.elements.stored_nonce.value = b.value;
        form.submit();
      });
    });
  }

  // The end of a dynamic registration: the platform closes its window or
  // frame (LTI Dynamic Registration 1.0 §3.6).
  if (document.getElementById("lti-registered")) {
    (window.opener || window.parent).postMessage({ subject: "org.imsglobal.lti.close" }, "*");
  }

  var create = document.getElementById("lti-dynreg-create");
  if (create) {
    create.addEventListener("click", function () {
      var err = document.getElementById("lti-dynreg-error");
      err.hidden = true;
      fetch("/api/v1/lti/registrations", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}", credentials: "same-origin" })
        .then(function (r) { return r.json().then(function (j) { if (!r.ok) throw j.error || j; return j; }); })
        .then(function (j) {
          document.getElementById("lti-dynreg-url").value = j.url;
          document.getElementById("lti-dynreg-expires").textContent = new Date(j.expires_at).toLocaleString();
          document.getElementById("lti-dynreg-made").hidden = false;
        })
        .catch(function (e) { err.textContent = (e && e.message) || "the registration URL could not be made"; err.hidden = false; });
    });
  }

  var answer = document.querySelector("form[data-autosubmit]");
  if (answer) answer.submit();
})();
