// The SAML HTTP-POST binding: the request the gateway made is posted to
// the identity provider by a form that submits itself (its button stays
// for a browser that runs no script).
(function () {
  "use strict";
  var form = document.querySelector("form[data-autosubmit]");
  if (form) form.submit();
})();
