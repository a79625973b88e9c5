/* Communications tab: draw the trend chart when the tab arrives through htmx (its scripts were not loaded by
 * the customer page), and reset the quick-log form's "logged" notice. No inline scripts (CSP). */
(function () {
  "use strict";
  if (window.crmCommunications) return;
  window.crmCommunications = true;

  function loadScript(src, done) {
    if (!src || document.querySelector('script[src="' + src + '"]')) { done(); return; }
    var script = document.createElement("script");
    script.src = src;
    script.onload = done;
    document.head.appendChild(script);
  }

  function drawCharts(root) {
    var canvas = (root || document).querySelector("canvas[data-chart][data-chart-lib]");
    if (!canvas) return;
    loadScript(canvas.dataset.chartLib, function () {
      loadScript(canvas.dataset.chartLoader, function () {
        if (window.crmCharts) window.crmCharts.renderAll(document);
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  document.addEventListener("htmx:load", function (event) { drawCharts(event.target); });
  if (document.readyState !== "loading") drawCharts(document);
})();
