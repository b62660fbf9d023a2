// Monitoring charts: every <canvas data-chart="..."> inside a [data-chart-src] container is
// drawn with Chart.js from the JSON snapshots at that address (the API's metrics history),
// redrawn every 15 s and when the range selector changes. No inline script (CSP).
(function () {
  "use strict";

  var REFRESH_MS = 15000;
  var charts = {};

  // Each chart: its series, computed from the snapshots (oldest first).
  var SERIES = {
    connections: [
      { label: "Total", value: function (s) { return s.connections_total; } },
      { label: "Active", value: function (s) { return s.connections_active; } }
    ],
    cache: [{ label: "Cache hit %", value: function (s) { return s.cache_hit_ratio; } }],
    storage: [{ label: "Storage MB", value: function (s) { return s.storage_logical_mb; } }],
    // CPU seconds is a counter: the chart shows its rate between two snapshots.
    cpu: [{ label: "CPU %", value: function (s, previous) {
      if (!previous) return null;
      var seconds = (Date.parse(s.snapshot_at) - Date.parse(previous.snapshot_at)) / 1000;
      var used = s.compute_cpu_seconds - previous.compute_cpu_seconds;
      if (seconds <= 0 || used < 0) return null;  // a restart resets the counter
      return Math.round(used / seconds * 1000) / 10;
    } }],
    memory: [{ label: "Memory MB", value: function (s) { return s.memory_mb; } }]
  };
  var COLORS = ["#6a3fd0", "#1f7a3a"];

  // Tick labels: hours and minutes, with seconds when the snapshots span a few minutes only.
  function clockFor(snapshots) {
    var span = snapshots.length > 1
      ? Date.parse(snapshots[snapshots.length - 1].snapshot_at) - Date.parse(snapshots[0].snapshot_at)
      : 0;
    var parts = span < 15 * 60 * 1000
      ? { hour: "2-digit", minute: "2-digit", second: "2-digit" }
      : { hour: "2-digit", minute: "2-digit" };
    return function (ms) { return new Date(ms).toLocaleTimeString([], parts); };
  }

  function datasets(kind, snapshots) {
    return SERIES[kind].map(function (series, index) {
      return {
        label: series.label,
        data: snapshots.map(function (s, i) {
          return { x: Date.parse(s.snapshot_at), y: series.value(s, snapshots[i - 1]) };
        }),
        borderColor: COLORS[index % COLORS.length],
        backgroundColor: COLORS[index % COLORS.length],
        borderWidth: 2,
        pointRadius: snapshots.length < 40 ? 2 : 0,
        spanGaps: false
      };
    });
  }

  function draw(canvas, snapshots) {
    var kind = canvas.getAttribute("data-chart");
    if (!SERIES[kind]) return;
    var existing = charts[canvas.id];
    if (existing) {
      existing.data.datasets = datasets(kind, snapshots);
      existing.options.scales.x.ticks.callback = clockFor(snapshots);
      existing.update("none");
    } else {
      charts[canvas.id] = new Chart(canvas, {
        type: "line",
        data: { datasets: datasets(kind, snapshots) },
        options: {
          animation: false,
          responsive: true,
          maintainAspectRatio: false,
          parsing: false,
          interaction: { mode: "nearest", axis: "x", intersect: false },
          plugins: {
            legend: { display: SERIES[kind].length > 1 },
            tooltip: { callbacks: { title: function (items) {
              return items.length ? new Date(items[0].parsed.x).toLocaleString() : "";
            } } }
          },
          scales: {
            x: { type: "linear", ticks: { maxTicksLimit: 6, callback: clockFor(snapshots) } },
            y: { beginAtZero: true }
          }
        }
      });
    }
    canvas.setAttribute("data-points", String(snapshots.length));
  }

  function say(container, text) {
    var status = document.querySelector("[data-chart-status]");
    if (status) status.textContent = text;
  }

  function load(container) {
    var src = container.getAttribute("data-chart-src");
    return fetch(src, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (answer) {
        if (!answer.ok) {
          var error = answer.body && answer.body.error ? answer.body.error : { message: "Could not load metrics" };
          say(container, error.message + (error.request_id ? " (request " + error.request_id + ")" : ""));
          return;
        }
        container.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
          draw(canvas, answer.body);
        });
        say(container, answer.body.length ? answer.body.length + " snapshots" : "No snapshots in this range yet");
      })
      .catch(function () { say(container, "Could not load metrics"); });
  }

  // Changing the range redraws at once (and keeps the address shareable).
  function wireRange(container) {
    var form = document.querySelector("form[data-chart-range]");
    var hours = form && form.querySelector("select[name=hours]");
    if (!hours) return;
    hours.addEventListener("change", function () {
      var url = new URL(container.getAttribute("data-chart-src"), window.location.href);
      url.searchParams.set("hours", hours.value);
      container.setAttribute("data-chart-src", url.pathname + url.search);
      var page = new URL(window.location.href);
      page.searchParams.set("hours", hours.value);
      window.history.replaceState(null, "", page.pathname + page.search);
      load(container);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (typeof Chart === "undefined") return;
    document.querySelectorAll("[data-chart-src]").forEach(function (container) {
      wireRange(container);
      load(container);
      setInterval(function () { if (!document.hidden) load(container); }, REFRESH_MS);
    });
  });
})();
