/* List pages (customers, contracts): behaviour that used to be inline, now a file the CSP allows.
 *
 * - Phones: the (long) filter bar starts folded unless filters are applied. The page says whether they are
 *   with `{{ filters_active|yesno:"true,false"|json_script:"filters-active" }}`.
 * - "Select all on this page" for the bulk actions; the table is swapped by htmx, so it listens on the document.
 */
(function () {
  "use strict";

  function foldFilters() {
    var panel = document.querySelector("[data-filter-panel]");
    var flag = document.getElementById("filters-active");
    var active = flag ? JSON.parse(flag.textContent) === "true" : false;
    if (panel && window.matchMedia("(max-width: 640px)").matches && !active) panel.open = false;
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", foldFilters);
  } else {
    foldFilters();
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!(target instanceof HTMLInputElement)) return;
    var boxes = document.querySelectorAll('input[name="ids"][form="bulk-form"]');
    if (target.hasAttribute("data-select-all")) {
      boxes.forEach(function (box) { box.checked = target.checked; box.closest("tr").classList.toggle("selected", target.checked); });
    } else if (target.name === "ids" && target.getAttribute("form") === "bulk-form") {
      target.closest("tr").classList.toggle("selected", target.checked);
    } else {
      return;
    }
    var checked = document.querySelectorAll('input[name="ids"][form="bulk-form"]:checked').length;
    var counter = document.querySelector("[data-selected-count]");
    if (counter) counter.textContent = counter.getAttribute("data-template").replace("__N__", checked);
    var all = document.querySelector("[data-select-all]");
    if (all) all.checked = checked > 0 && checked === boxes.length;
  });
})();
