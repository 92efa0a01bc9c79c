// The console's SCIM page: a new provisioning token is shown once, where
// the form was, for the admin to copy into the identity provider.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("scim-token-form");
    if (!form) return;
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var err = form.querySelector("[data-error]");
      err.hidden = true;
      var body = { name: form.elements.name.value, link_by_email: form.elements.link_by_email.checked };
      fetch("/api/v1/scim/tokens", {
        method: "POST", credentials: "same-origin",
        headers: { "Accept": "application/json", "Content-Type": "application/json" },
        body: JSON.stringify(body)
      }).then(function (r) {
        return r.json().then(function (j) {
          if (!r.ok) throw (j && j.error) || { message: "request failed (" + r.status + ")" };
          return j;
        });
      }).then(function (j) {
        document.getElementById("scim-token-value").value = j.token;
        document.getElementById("scim-token-created").hidden = false;
        form.hidden = true;
      }).catch(function (e) {
        err.textContent = e.message || "request failed";
        err.hidden = false;
      });
    });
  });
})();
