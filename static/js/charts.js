/* Charts without inline scripts (the pages run under a Content-Security-Policy).
 *
 * A page includes vendor/chartjs/chart.umd.min.js and this file, then writes
 *   {{ chart|json_script:"sat-trend" }}
 *   <canvas data-chart="sat-trend" aria-label="..." role="img"></canvas>
 * where `chart` is {"type": "line"|"bar"|"doughnut", "labels": [...], "datasets": [{"label", "data", ...}],
 *                   "targets": [{"value": 4.5, "label": "Target 4.5"}], "y": {"min": 0, "max": 5}}.
 * Targets are drawn as dashed horizontal lines. htmx swaps are handled: new canvases render on htmx:load.
 *
 * Lazy loading (tabs that arrive by htmx; the page itself need not load the chart library): an element
 *   <div data-chart-src="{% static 'vendor/chartjs/chart.umd.min.js' %}" data-charts-src="{% static 'js/charts.js' %}">
 * around the canvases makes this file load Chart.js once (crmCharts.start) and render them. A tab loads this
 * file with a plain <script> tag, or injects it from data-charts-src (health/health.js).
 */
(function () {
  "use strict";
  if (window.crmCharts) {
    // Loaded a second time (a tab swapped in again): the first copy does the work.
    window.crmCharts.start();
    return;
  }
  var PALETTE = ["#2563eb", "#16a34a", "#d97706", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d"];

  var targetLines = {
    id: "crmTargets",
    afterDatasetsDraw: function (chart, _args, options) {
      var targets = (options && options.targets) || [];
      var y = chart.scales.y;
      if (!y || !targets.length) return;
      var ctx = chart.ctx;
      targets.forEach(function (target) {
        var pos = y.getPixelForValue(target.value);
        if (pos < chart.chartArea.top || pos > chart.chartArea.bottom) return;
        ctx.save();
        ctx.strokeStyle = target.color || "#dc2626";
        ctx.setLineDash([6, 4]);
        ctx.beginPath();
        ctx.moveTo(chart.chartArea.left, pos);
        ctx.lineTo(chart.chartArea.right, pos);
        ctx.stroke();
        if (target.label) {
          ctx.fillStyle = target.color || "#dc2626";
          ctx.font = "12px sans-serif";
          ctx.fillText(target.label, chart.chartArea.left + 4, pos - 4);
        }
        ctx.restore();
      });
    },
  };

  function render(canvas) {
    if (canvas.dataset.chartReady || typeof window.Chart === "undefined") return;
    var source = document.getElementById(canvas.dataset.chart);
    if (!source) return;
    var spec = JSON.parse(source.textContent);
    var datasets = (spec.datasets || []).map(function (set, index) {
      var colour = set.color || PALETTE[index % PALETTE.length];
      return Object.assign({ borderColor: colour, backgroundColor: spec.type === "line" ? colour : (set.colors || colour), tension: 0.25, spanGaps: true }, set);
    });
    var scales = spec.type === "doughnut" || spec.type === "pie" ? {} : { y: Object.assign({ beginAtZero: true }, spec.y || {}) };
    canvas.dataset.chartReady = "1";
    new window.Chart(canvas, {
      type: spec.type || "line",
      data: { labels: spec.labels || [], datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: scales,
        plugins: { crmTargets: { targets: spec.targets || [] }, legend: { display: datasets.length > 1 || spec.type === "doughnut" } },
      },
      plugins: [targetLines],
    });
  }

  function renderAll(root) {
    (root || document).querySelectorAll("canvas[data-chart]").forEach(render);
  }

  // Load a script once; `done` runs when it is there (at once for an empty src).
  function load(src, done) {
    if (!src) return done();
    var existing = document.querySelector('script[data-crm-src="' + src + '"]');
    if (existing) {
      if (existing.dataset.loaded) return done();
      existing.addEventListener("load", done);
      return;
    }
    var script = document.createElement("script");
    script.src = src;
    script.dataset.crmSrc = src;
    script.addEventListener("load", function () { script.dataset.loaded = "1"; done(); });
    document.head.appendChild(script);
  }

  // Chart.js from the first [data-chart-src] element when the page has not loaded it, then every canvas.
  function start() {
    var host = document.querySelector("[data-chart-src]");
    if (!host) return;
    load(window.Chart ? null : host.dataset.chartSrc, function () { renderAll(document); });
  }

  window.crmCharts = { renderAll: renderAll, load: load, start: start };
  document.addEventListener("DOMContentLoaded", function () { renderAll(document); start(); });
  document.addEventListener("htmx:load", function (event) { renderAll(event.target); });
  document.addEventListener("htmx:afterSettle", start);
  if (document.readyState !== "loading") start();
})();
