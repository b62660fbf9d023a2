// Lampion console: small behaviours wired by data attributes (no inline script: the CSP
// forbids it). Loaded on every page; each also runs after htmx swaps new content in.
(function () {
  "use strict";

  function copyButtons(root) {
    root.querySelectorAll("[data-copy]:not([data-wired])").forEach(function (button) {
      button.setAttribute("data-wired", "");
      button.addEventListener("click", function () {
        var source = document.getElementById(button.getAttribute("data-copy"));
        if (!source) return;
        var text = source.getAttribute("data-value") || source.textContent;
        var done = function () {
          var label = button.textContent;
          button.textContent = "Copied";
          setTimeout(function () { button.textContent = label; }, 1500);
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(done, function () {});
        } else {
          var area = document.createElement("textarea");
          area.value = text;
          document.body.appendChild(area);
          area.select();
          document.execCommand("copy");
          area.remove();
          done();
        }
      });
    });
  }

  // A hidden secret shows dots until its "Reveal" button is pressed.
  function revealButtons(root) {
    root.querySelectorAll("[data-reveal]:not([data-wired])").forEach(function (button) {
      button.setAttribute("data-wired", "");
      button.addEventListener("click", function () {
        var target = document.getElementById(button.getAttribute("data-reveal"));
        if (!target) return;
        var shown = target.getAttribute("data-shown") === "true";
        target.textContent = shown ? target.getAttribute("data-masked") : target.getAttribute("data-value");
        target.setAttribute("data-shown", shown ? "false" : "true");
        button.textContent = shown ? "Reveal" : "Hide";
      });
    });
  }

  // A destructive button stays disabled until the expected text is typed.
  function typedConfirmations(root) {
    root.querySelectorAll("input[data-confirm]:not([data-wired])").forEach(function (input) {
      input.setAttribute("data-wired", "");
      var button = document.getElementById(input.getAttribute("data-confirm-button"));
      var check = function () { if (button) button.disabled = input.value !== input.getAttribute("data-confirm"); };
      input.addEventListener("input", check);
      check();
    });
  }

  // A one-time sign-in link carries its token in the fragment, which is never sent.
  function fragmentFields(root) {
    root.querySelectorAll("input[data-from-fragment]").forEach(function (input) {
      input.value = decodeURIComponent(window.location.hash.slice(1));
    });
  }

  function wire(root) {
    fragmentFields(root);
    copyButtons(root);
    revealButtons(root);
    typedConfirmations(root);
  }

  document.addEventListener("DOMContentLoaded", function () { wire(document); });
  document.addEventListener("htmx:afterSettle", function (event) { wire(event.target); });
  // An error swapped into #errors is cleared by the next successful request.
  document.addEventListener("htmx:beforeRequest", function () {
    var errors = document.getElementById("errors");
    if (errors) errors.innerHTML = "";
  });
})();
