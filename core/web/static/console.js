/* console.js - the staff console's only script (served at
 * /static/console.js; the Content-Security-Policy forbids inline
 * scripts).  Every action works without it: it only keeps a form from
 * being sent twice by a double click. */
"use strict";
document.addEventListener("submit", function (ev) {
  var form = ev.target;
  if (form.getAttribute("method") !== "post") return;
  if (form.dataset.sent === "1") { ev.preventDefault(); return; }
  form.dataset.sent = "1";
});
