// Deep linking: the tool's signed answer is posted back to the LMS by a
// form that submits itself (its button stays for a browser that runs no
// script).
(function () {
  "use strict";
  var form = document.querySelector("form[data-autosubmit]");
  if (form) form.submit();
})();
