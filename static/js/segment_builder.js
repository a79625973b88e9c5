/* Segment condition builder: rows of field / operator / value in AND/OR groups that nest.

   The page (segments/templates/segments/segment_form.html) carries
     <div id="segment-builder" data-payload="<json_script id>" data-target="<rules textarea id>">
   and a json_script payload {fields: [{field, label, type, operators}], operators: {op: label}, max_depth,
   max_conditions, error: {path, message} | null, text: {...translated UI strings}}.
   The builder writes the rule as JSON ({"op": "and", "conditions": [...]}) into the textarea, which is what the
   server validates (and stays the authority); without JavaScript the textarea is edited directly. */
(function () {
  "use strict";

  var NUMERIC = { number: true, integer: true, days: true };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "text") node.textContent = value;
      else if (key === "className") node.className = value;
      else node.setAttribute(key, value === true ? "" : value);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function init(root) {
    var payloadNode = document.getElementById(root.dataset.payload);
    var textarea = document.getElementById(root.dataset.target);
    if (!payloadNode || !textarea) return;
    var payload = JSON.parse(payloadNode.textContent);
    var T = payload.text;
    var tree = root.querySelector(".sb-tree");
    var wrapper = textarea.closest(".field") || textarea.parentNode;
    var form = textarea.form;
    var fields = {};
    payload.fields.forEach(function (f) { fields[f.field] = f; });
    var error = payload.error;
    var model = null;

    // In JSON mode: a button back to the builder and a line saying why the builder could not take the JSON.
    var toBuilder = el("button", { type: "button", className: "btn btn-ghost btn-sm hidden", "data-testid": "sb-show-builder", text: T.show_builder });
    var jsonMessage = el("p", { className: "help hidden", role: "status" });
    textarea.insertAdjacentElement("afterend", toBuilder);
    toBuilder.insertAdjacentElement("afterend", jsonMessage);
    var jsonParts = [textarea, wrapper.querySelector("label"), wrapper.querySelector(".help:not([role])")];

    // --- model <-> JSON -------------------------------------------------------------------------------------
    function newCondition() {
      var f = payload.fields[0];
      return { field: f.field, operator: f.operators[0], value: f.type === "bool" ? "true" : "" };
    }

    function fromJson(node, depth) {
      if (!node || typeof node !== "object" || Array.isArray(node) || !Array.isArray(node.conditions)) throw new Error("group");
      if (depth > payload.max_depth) throw new Error("depth");
      var op = node.op === undefined ? "and" : node.op;
      if (op !== "and" && op !== "or") throw new Error("op");
      return {
        op: op,
        conditions: node.conditions.map(function (item) {
          if (item && typeof item === "object" && "conditions" in item) return fromJson(item, depth + 1);
          var f = item && fields[item.field];
          if (!f || f.operators.indexOf(item.operator) < 0) throw new Error("condition");
          var value = item.value;
          if (Array.isArray(value)) value = value.join(", ");
          else if (value === undefined || value === null) value = "";
          return { field: item.field, operator: item.operator, value: String(value) };
        })
      };
    }

    function scalar(f, text) {
      if (NUMERIC[f.type]) {
        var t = text.trim();
        // Anything else goes to the server as typed: its error names the row.
        return /^-?\d+(\.\d+)?$/.test(t) ? Number(t) : t;
      }
      if (f.type === "bool") return text === "true" ? true : text === "false" ? false : text;
      return text;
    }

    function toJson(group) {
      return {
        op: group.op,
        conditions: group.conditions.map(function (item) {
          if (item.conditions) return toJson(item);
          var f = fields[item.field];
          var value = item.operator === "in"
            ? item.value.split(/[,，、]/).map(function (s) { return s.trim(); }).filter(Boolean).map(function (s) { return scalar(f, s); })
            : scalar(f, item.value);
          return { field: item.field, operator: item.operator, value: value };
        })
      };
    }

    function sync() { if (model) textarea.value = JSON.stringify(toJson(model), null, 2); }

    function countConditions(group) {
      return group.conditions.reduce(function (n, item) { return n + (item.conditions ? countConditions(item) : 1); }, 0);
    }

    // --- rendering ------------------------------------------------------------------------------------------
    function errorFor(path, exact) {
      if (!error) return null;
      var hit = exact ? (error.path === path || error.path === path + ".conditions" || error.path === path + ".op")
                      : (error.path === path || error.path.indexOf(path + ".") === 0);
      return hit ? el("div", { className: "field-error", role: "alert" }, [el("p", { text: error.path + ": " + error.message })]) : null;
    }

    function changed(focusPath) {
      error = null;  // paths move when the tree changes
      sync();
      render(focusPath);
    }

    function select(options, value, attrs) {
      var node = el("select", attrs, options.map(function (o) {
        return el("option", { value: o[0], text: o[1], selected: o[0] === value });
      }));
      node.value = value;
      return node;
    }

    function renderCondition(cond, group, index, path) {
      var f = fields[cond.field];
      var fieldSelect = select(payload.fields.map(function (x) { return [x.field, x.label]; }), cond.field,
        { className: "sb-field", "aria-label": T.field, "data-testid": "sb-field" });
      var opSelect = select(f.operators.map(function (op) { return [op, payload.operators[op] || op]; }), cond.operator,
        { className: "sb-op", "aria-label": T.operator, "data-testid": "sb-operator" });
      var value;
      if (f.type === "bool") {
        value = select([["true", T["true"]], ["false", T["false"]]], cond.value, { className: "sb-value", "aria-label": T.value, "data-testid": "sb-value" });
        value.addEventListener("change", function () { cond.value = value.value; sync(); });
      } else {
        var isIn = cond.operator === "in";
        value = el("input", {
          type: "text", className: "sb-value", value: cond.value, "aria-label": T.value, "data-testid": "sb-value",
          inputmode: NUMERIC[f.type] && !isIn ? "decimal" : null, placeholder: isIn ? T.in_help : null, maxlength: isIn ? 2000 : 200
        });
        value.addEventListener("input", function () { cond.value = value.value; sync(); });
      }
      var remove = el("button", { type: "button", className: "btn btn-ghost btn-sm sb-remove", "aria-label": T.remove_condition, title: T.remove_condition, "data-testid": "sb-remove", text: "×" });

      fieldSelect.addEventListener("change", function () {
        var next = fields[fieldSelect.value];
        if (next.type !== f.type) cond.value = next.type === "bool" ? "true" : "";
        cond.field = next.field;
        if (next.operators.indexOf(cond.operator) < 0) cond.operator = next.operators[0];
        changed(path);
      });
      opSelect.addEventListener("change", function () { cond.operator = opSelect.value; changed(path); });
      remove.addEventListener("click", function () { group.conditions.splice(index, 1); changed(null); });

      var problem = errorFor(path, false);
      var row = el("li", { className: "sb-row" + (problem ? " has-error" : ""), "data-path": path, "data-testid": "sb-condition" },
        [fieldSelect, opSelect, value, remove, problem]);
      return row;
    }

    function renderGroup(group, parent, index, path, depth) {
      var opButtons = ["and", "or"].map(function (op) {
        var button = el("button", {
          type: "button", className: "segmented-btn" + (group.op === op ? " active" : ""), "aria-pressed": group.op === op ? "true" : "false",
          "data-testid": "sb-op-" + op, text: T[op]
        });
        button.addEventListener("click", function () { if (group.op !== op) { group.op = op; changed(path); } });
        return button;
      });
      var items = el("ul", { className: "sb-items" }, group.conditions.map(function (item, i) {
        var itemPath = path + ".conditions[" + i + "]";
        return item.conditions ? el("li", {}, [renderGroup(item, group, i, itemPath, depth + 1)]) : renderCondition(item, group, i, itemPath);
      }));
      var full = countConditions(model) >= payload.max_conditions;
      var addCondition = el("button", { type: "button", className: "btn btn-secondary btn-sm", "data-testid": "sb-add-condition", disabled: full, text: "+ " + T.add_condition });
      addCondition.addEventListener("click", function () {
        group.conditions.push(newCondition());
        changed(path + ".conditions[" + (group.conditions.length - 1) + "]");
      });
      var foot = [addCondition];
      if (depth < payload.max_depth) {
        var addGroup = el("button", { type: "button", className: "btn btn-secondary btn-sm", "data-testid": "sb-add-group", disabled: full, text: "+ " + T.add_group });
        addGroup.addEventListener("click", function () {
          group.conditions.push({ op: group.op === "and" ? "or" : "and", conditions: [newCondition()] });
          changed(path + ".conditions[" + (group.conditions.length - 1) + "].conditions[0]");
        });
        foot.push(addGroup);
      }
      if (parent) {
        var removeGroup = el("button", { type: "button", className: "btn btn-ghost btn-sm", "data-testid": "sb-remove-group", text: T.remove_group });
        removeGroup.addEventListener("click", function () { parent.conditions.splice(index, 1); changed(null); });
        foot.push(removeGroup);
      }
      return el("div", { className: "sb-group sb-" + group.op, role: "group", "aria-label": T.group, "data-path": path, "data-testid": "sb-group" }, [
        el("div", { className: "sb-group-head" }, [el("div", { className: "segmented", role: "group", "aria-label": T.group_op }, opButtons)]),
        group.conditions.length ? items : el("p", { className: "muted small sb-empty", text: T.empty_group }),
        errorFor(path, true),
        el("div", { className: "sb-group-foot" }, foot)
      ]);
    }

    function render(focusPath) {
      tree.replaceChildren(renderGroup(model, null, 0, "rules", 1));
      if (focusPath) {
        var target = tree.querySelector('[data-path="' + focusPath + '"]');
        var control = target && target.querySelector("select, input, button");
        if (control) control.focus();
      }
    }

    // --- modes ----------------------------------------------------------------------------------------------
    function showBuilder() {
      var text = textarea.value.trim();
      try {
        model = text ? fromJson(JSON.parse(text), 1) : { op: "and", conditions: [newCondition()] };
      } catch (e) {
        jsonMessage.textContent = T.bad_json;
        jsonMessage.classList.remove("hidden");
        return false;
      }
      render(null);
      jsonParts.forEach(function (node) { if (node) node.classList.add("hidden"); });
      toBuilder.classList.add("hidden");
      jsonMessage.classList.add("hidden");
      root.classList.remove("hidden");
      return true;
    }

    function showJson() {
      sync();
      model = null;
      root.classList.add("hidden");
      jsonParts.forEach(function (node) { if (node) node.classList.remove("hidden"); });
      toBuilder.classList.remove("hidden");
      textarea.focus();
    }

    root.querySelector("[data-sb-action=show-json]").addEventListener("click", showJson);
    toBuilder.addEventListener("click", function () { if (showBuilder()) { var first = tree.querySelector("select, input, button"); if (first) first.focus(); } });
    if (form) form.addEventListener("submit", sync);
    if (!showBuilder()) toBuilder.classList.remove("hidden");
  }

  function start() {
    var root = document.getElementById("segment-builder");
    if (root) init(root);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
