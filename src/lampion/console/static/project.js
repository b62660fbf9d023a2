// Projects and branches: after a create form succeeds, clear it and drop the "No projects
// yet" row; an error shown at the top of a long page is scrolled into view. Wired by data
// attributes (the CSP forbids inline script).
(function () {
  "use strict";

  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-reset-on-success")) return;
    if (!event.detail.successful) return;
    form.reset();
    document.querySelectorAll("tr.empty-row").forEach(function (row) { row.remove(); });
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (target && target.id === "errors" && target.firstElementChild) {
      target.scrollIntoView({ block: "nearest" });
    }
  });
})();
