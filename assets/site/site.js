// Show / Hide beside every password field (ASVS V2.1.12): the customer may
// check what they typed. Progressive: without this script every field works
// as before. Loaded from the site itself (CSP script-src 'self'), no inline
// code, no text from the page is ever parsed as HTML.
"use strict";
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
