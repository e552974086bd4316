// Show / Hide beside every password field (ASVS V2.1.12): the customer may
// check what they typed; and a strength meter under New password. Progressive: without this script every field works
// as before. Loaded from the site itself (CSP script-src 'self'), no inline
// code, no text from the page is ever parsed as HTML.
"use strict";
var base = document.currentScript ? document.currentScript.dataset.base || "" : "";

// The strength meter (ASVS V2.1.8): while a new password is typed, ask the
// site for the policy's verdict (the same check the form's submit gets).
var fresh = document.getElementById("new_password");
if (fresh && fresh.form && fresh.form.elements.csrf && window.fetch) {
  var meter = document.createElement("p");
  meter.className = "hint strength";
  meter.setAttribute("aria-live", "polite");
  fresh.insertAdjacentElement("afterend", meter);
  var timer = null;
  fresh.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      if (!fresh.value) {
        meter.textContent = "";
        return;
      }
      var body = new URLSearchParams();
      body.set("csrf", fresh.form.elements.csrf.value);
      body.set("password", fresh.value);
      fetch(base + "/password/strength", { method: "POST", body: body, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (v) {
          if (!v) return;
          meter.textContent = v.ok ? "Strong enough." : v.reasons.join(" ");
          meter.className = v.ok ? "hint strength ok" : "hint strength weak";
        })
        .catch(function () {});
    }, 300);
  });
}
document.querySelectorAll('input[type="password"]').forEach(function (input) {
  var button = document.createElement("button");
  button.type = "button";
  button.className = "secondary reveal";
  button.textContent = "Show";
  button.setAttribute("aria-controls", input.id);
  button.setAttribute("aria-pressed", "false");
  button.addEventListener("click", function () {
    var shown = input.type === "text";
    input.type = shown ? "password" : "text";
    button.textContent = shown ? "Show" : "Hide";
    button.setAttribute("aria-pressed", shown ? "false" : "true");
  });
  input.insertAdjacentElement("afterend", button);
});
