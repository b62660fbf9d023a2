// The log tail: "Refresh" reloads it once; "Follow" reloads it every few seconds while
// checked, keeping the view at the newest line. Wired by data attributes (no inline script).
(function () {
  "use strict";

  var FOLLOW_MS = 3000;

  function reload(target) {
    var src = target.getAttribute("data-logs-src");
    if (!src || typeof htmx === "undefined") return Promise.resolve();
    return htmx.ajax("GET", src, { target: target, swap: "innerHTML" });
  }

  function toBottom(target) {
    var pre = target.querySelector(".log-tail");
    if (pre) pre.scrollTop = pre.scrollHeight;
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-logs-refresh]").forEach(function (button) {
      var target = document.getElementById(button.getAttribute("data-logs-refresh"));
      if (target) button.addEventListener("click", function () { reload(target); });
    });
    document.querySelectorAll("[data-logs-follow]").forEach(function (box) {
      var target = document.getElementById(box.getAttribute("data-logs-follow"));
      if (!target) return;
      var timer = null;
      target.addEventListener("htmx:afterSettle", function () {
        if (box.checked) toBottom(target);
      });
      box.addEventListener("change", function () {
        if (timer) { clearInterval(timer); timer = null; }
        target.setAttribute("data-following", box.checked ? "true" : "false");
        if (!box.checked) return;
        reload(target);
        timer = setInterval(function () { if (!document.hidden) reload(target); }, FOLLOW_MS);
      });
      box.checked = false;
    });
  });
})();
