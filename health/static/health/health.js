/* The customer page's Health tab arrives by htmx (or with the page); the page itself does not load the chart
 * library. The lazy loader lives in static/js/charts.js (crmCharts.start): this file only brings that file in
 * once (its URL is the data-charts-src attribute; no inline script: CSP), and it loads Chart.js and renders. */
(function () {
  "use strict";
  function start() {
    if (window.crmCharts) return window.crmCharts.start();
    var host = document.querySelector("[data-charts-src]");
    if (!host || document.querySelector("script[data-crm-charts]")) return;
    var script = document.createElement("script");
    script.src = host.dataset.chartsSrc;
    script.dataset.crmCharts = "1";
    document.head.appendChild(script);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
  document.addEventListener("htmx:afterSettle", start);
})();
