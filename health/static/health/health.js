/* The customer page's Health tab arrives by htmx (or with the page); the page itself does not load the chart
 * library. This file loads Chart.js and static/js/charts.js once, in order, then renders the tab's canvases.
 * Script URLs come from data attributes of [data-chart-src] (no inline script: CSP). */
(function () {
  "use strict";
  function load(src, done) {
    if (!src) return done();
    var existing = document.querySelector('script[data-hc-src="' + src + '"]');
    if (existing) {
      if (existing.dataset.loaded) return done();
      existing.addEventListener("load", done);
      return;
    }
    var script = document.createElement("script");
    script.src = src;
    script.dataset.hcSrc = src;
    script.addEventListener("load", function () { script.dataset.loaded = "1"; done(); });
    document.head.appendChild(script);
  }
  function start() {
    var host = document.querySelector("[data-chart-src]");
    if (!host) return;
    var render = function () { if (window.crmCharts) window.crmCharts.renderAll(document); };
    if (window.Chart && window.crmCharts) return render();
    load(window.Chart ? null : host.dataset.chartSrc, function () {
      load(window.crmCharts ? null : host.dataset.chartsSrc, render);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
  document.addEventListener("htmx:afterSettle", start);
})();
