// The Webhooks console pages: their forms and buttons call /api/v1/webhooks
// with the session cookie, and a secret the API answers with is shown once.
(function () {
  "use strict";

  var call = window.Invitegate.call;

  function showError(box, err) {
    var msg = err.message || "request failed";
    if (err.details && err.details.length > 1) {
      msg = err.details.map(function (d) { return d.field + ": " + d.message; }).join("; ");
    }
    if (box) { box.textContent = msg; box.hidden = false; } else { alert(msg); }
  }

  function then(kind, body) {
    if (kind === "reload") { location.reload(); return; }
    if (kind === "list") { location.href = "/console/webhooks"; return; }
    if (kind === "secret") {
      document.getElementById("webhook-secret-value").value = body.secret;
      var link = document.getElementById("webhook-secret-link");
      if (link) link.href = "/console/webhooks/" + body.id;
      document.getElementById("webhook-secret").hidden = false;
    }
  }

  function serialize(form) {
    var out = { types: [] };
    form.querySelectorAll("[name]").forEach(function (el) {
      if (el.name === "types") { if (el.checked) out.types.push(el.value); return; }
      if (el.dataset.type === "bool") { out[el.name] = el.checked; return; }
      out[el.name] = el.value;
    });
    return out;
  }

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form.dataset.webhookApi) return;
    ev.preventDefault();
    var box = form.querySelector("[data-error]");
    box.hidden = true;
    call(form.dataset.webhookMethod, form.dataset.webhookApi, serialize(form))
      .then(function (body) { then(form.dataset.webhookThen, body); if (form.dataset.webhookThen === "secret") form.reset(); })
      .catch(function (e) { showError(box, e); });
  });

  document.addEventListener("click", function (ev) {
    var b = ev.target.closest("button[data-webhook-action]");
    if (!b) return;
    if (b.dataset.confirm && !confirm(b.dataset.confirm)) return;
    call(b.dataset.webhookMethod || "POST", b.dataset.webhookAction)
      .then(function (body) { then(b.dataset.webhookThen, body); })
      .catch(function (e) { showError(document.getElementById("webhook-error"), e); });
  });
})();
