/* Task board: drag a card onto another column; the move is POSTed through htmx and the board swapped in. */
(function () {
  "use strict";
  var dragged = null;

  function board() { return document.getElementById("task-board"); }

  document.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest(".task-card[draggable=true]");
    if (!card) return;
    dragged = card;
    card.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.taskId);
  });

  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    document.querySelectorAll(".task-column.drop-over").forEach(function (el) { el.classList.remove("drop-over"); });
  });

  document.addEventListener("dragover", function (event) {
    var column = event.target.closest && event.target.closest(".task-column");
    if (!column || !dragged) return;
    event.preventDefault();
    column.classList.add("drop-over");
  });

  document.addEventListener("dragleave", function (event) {
    var column = event.target.closest && event.target.closest(".task-column");
    if (column && !column.contains(event.relatedTarget)) column.classList.remove("drop-over");
  });

  document.addEventListener("drop", function (event) {
    var column = event.target.closest && event.target.closest(".task-column");
    if (!column || !dragged) return;
    event.preventDefault();
    var status = column.dataset.status;
    var card = dragged;
    if (card.closest(".task-column") === column) return;
    var values = { status: status };
    if (status === "3") {
      var help = document.getElementById("board-help");
      var result = window.prompt(help ? help.dataset.donePrompt : "Result:");
      if (result === null) return;
      values.result = result;
    }
    var url = card.dataset.moveUrl + window.location.search;
    window.htmx.ajax("POST", url, { target: "#task-board", swap: "outerHTML", values: values });
  });
})();
