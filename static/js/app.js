/*
 * Customer Success CRM: small progressive enhancements, no dependencies.
 *  - confirmation dialog for form[data-confirm] / button[data-confirm] / htmx hx-confirm
 *  - mobile navigation toggle ([data-nav-toggle])
 *  - dismissible alerts ([data-dismiss="alert"])
 *  - closes open <details class="menu"> on outside click / Esc
 * CSRF for htmx is sent by hx-headers on <body>.
 */
(function () {
  "use strict";

  var root = document.documentElement;
  root.classList.remove("no-js");
  root.classList.add("js");

  /* ---------------------------------------------------------------- confirm dialog */

  var pending = null; // {resolve: function(bool)} while the dialog is open

  function getDialog() {
    return document.getElementById("confirm-dialog");
  }

  /** Ask the user; calls done(true|false). Falls back to window.confirm without <dialog>. */
  function askConfirm(message, options, done) {
    var dialog = getDialog();
    if (!dialog || typeof dialog.showModal !== "function") {
      done(window.confirm(message));
      return;
    }
    if (dialog.open) {
      done(false); // one question at a time
      return;
    }
    var text = dialog.querySelector("#confirm-dialog-message");
    var ok = dialog.querySelector("[data-confirm-ok]");
    var cancel = dialog.querySelector("[data-confirm-cancel]");
    if (text) text.textContent = message;
    if (ok) {
      ok.textContent = (options && options.label) || ok.getAttribute("data-default-label") || ok.textContent;
      var variant = (options && options.variant) || "danger";
      ok.className = "btn btn-" + variant;
    }
    var opener = document.activeElement;
    pending = function (result) {
      pending = null;
      if (opener && typeof opener.focus === "function" && document.contains(opener)) {
        opener.focus();
      }
      done(result);
    };
    dialog.returnValue = "";
    dialog.showModal();
    if (cancel) cancel.focus();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var dialog = getDialog();
    if (!dialog) return;
    // Fires for Cancel, Confirm (form method=dialog) and Esc (returnValue stays "").
    dialog.addEventListener("close", function () {
      if (pending) pending(dialog.returnValue === "confirm");
    });
    // Click on the backdrop cancels.
    dialog.addEventListener("click", function (event) {
      if (event.target === dialog) dialog.close("cancel");
    });
  });

  function confirmOptions(el) {
    return {
      label: el.getAttribute("data-confirm-label"),
      variant: el.getAttribute("data-confirm-variant"),
    };
  }

  // Capture phase on document: runs before htmx's own submit handler on the form.
  document.addEventListener(
    "submit",
    function (event) {
      var form = event.target;
      if (!(form instanceof HTMLFormElement)) return;
      if (form.method === "dialog") return;
      if (form.hasAttribute("data-confirmed")) {
        form.removeAttribute("data-confirmed");
        return;
      }
      var submitter = event.submitter || null;
      var source = submitter && submitter.hasAttribute("data-confirm") ? submitter : form.hasAttribute("data-confirm") ? form : null;
      if (!source) return;

      event.preventDefault();
      event.stopImmediatePropagation();
      askConfirm(source.getAttribute("data-confirm"), confirmOptions(source), function (confirmed) {
        if (!confirmed) return;
        form.setAttribute("data-confirmed", "");
        if (typeof form.requestSubmit === "function") {
          // Keeps the submitter's name/value and lets htmx handle hx-post forms.
          if (submitter && submitter.form === form) {
            form.requestSubmit(submitter);
          } else {
            form.requestSubmit();
          }
        } else {
          if (submitter && submitter.name) {
            var hidden = document.createElement("input");
            hidden.type = "hidden";
            hidden.name = submitter.name;
            hidden.value = submitter.value;
            form.appendChild(hidden);
          }
          form.removeAttribute("data-confirmed");
          form.submit();
        }
      });
    },
    true
  );

  // The language switcher returns to the current URL, including filters pushed by htmx after page load.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.classList.contains("lang-switch")) return;
    var next = form.querySelector('input[name="next"]');
    if (next) next.value = window.location.pathname + window.location.search;
  });

  // htmx's hx-confirm uses the same dialog instead of window.confirm.
  document.addEventListener("htmx:confirm", function (event) {
    var detail = event.detail || {};
    if (!detail.question) return;
    event.preventDefault();
    askConfirm(detail.question, confirmOptions(detail.elt || event.target), function (confirmed) {
      if (confirmed) detail.issueRequest(true);
    });
  });

  /* ---------------------------------------------------------------- mobile navigation */

  function setNav(open) {
    var body = document.body;
    body.classList.toggle("nav-open", open);
    var toggles = document.querySelectorAll("[data-nav-toggle]");
    for (var i = 0; i < toggles.length; i++) {
      var t = toggles[i];
      t.setAttribute("aria-expanded", open ? "true" : "false");
      var label = t.getAttribute(open ? "data-label-close" : "data-label-open");
      if (label) t.setAttribute("aria-label", label);
    }
    var backdrop = document.querySelector(".nav-backdrop");
    if (backdrop) backdrop.hidden = !open;
    if (open) {
      var first = document.querySelector("#app-sidebar a");
      if (first) first.focus();
    }
  }

  /* ---------------------------------------------------------------- click delegation */

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) return;

    var toggle = target.closest("[data-nav-toggle]");
    if (toggle) {
      event.preventDefault(); // the href="#app-sidebar" is only the no-JS fallback
      setNav(!document.body.classList.contains("nav-open"));
      return;
    }
    if (target.closest("[data-nav-close]")) {
      setNav(false);
      return;
    }
    if (document.body.classList.contains("nav-open") && target.closest("#app-sidebar a")) {
      setNav(false); // navigating away; htmx-boosted links would otherwise keep it open
    }

    var dismiss = target.closest('[data-dismiss="alert"]');
    if (dismiss) {
      var alert = dismiss.closest(".alert");
      if (alert) {
        alert.classList.add("is-leaving");
        window.setTimeout(function () {
          alert.remove();
        }, 160);
      }
      return;
    }

    // Close open dropdown menus when clicking elsewhere.
    var menus = document.querySelectorAll("details.menu[open]");
    for (var i = 0; i < menus.length; i++) {
      if (!menus[i].contains(target)) menus[i].removeAttribute("open");
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var openMenu = document.querySelector("details.menu[open]");
    if (openMenu) {
      openMenu.removeAttribute("open");
      var summary = openMenu.querySelector("summary");
      if (summary) summary.focus();
      return;
    }
    if (document.body.classList.contains("nav-open")) {
      setNav(false);
      var toggle = document.querySelector("[data-nav-toggle]");
      if (toggle) toggle.focus();
    }
  });

  // Leaving the mobile breakpoint with the drawer open: reset it.
  if (window.matchMedia) {
    var desktop = window.matchMedia("(min-width: 901px)");
    var onChange = function (mq) {
      if (mq.matches && document.body.classList.contains("nav-open")) setNav(false);
    };
    if (desktop.addEventListener) desktop.addEventListener("change", onChange);
    else if (desktop.addListener) desktop.addListener(onChange);
  }
})();
