/* Agent panel keyboard shortcuts and small enhancements. Everything works without this file.
 *
 *   j / k   move the selection down / up in a ticket table
 *   Enter   open the selected ticket
 *   /       focus the quick search box
 *   r / n   on a ticket page: open the reply / internal note tab (#reply-tab, #note-tab)
 *   Esc     leave a text field
 */
(function () {
  "use strict";

  function isTyping(el) {
    if (!el || el === document.body) return false;
    if (el.isContentEditable) return true;
    if (el.tagName === "TEXTAREA" || el.tagName === "SELECT") return true;
    if (el.tagName === "INPUT") {
      return !["checkbox", "radio", "button", "submit", "reset"].includes(el.type);
    }
    return false;
  }

  function rows() {
    return Array.from(document.querySelectorAll("table.queue tbody tr[data-href]"));
  }

  function selectedIndex(list) {
    return list.findIndex(function (row) { return row.classList.contains("selected"); });
  }

  function select(list, index) {
    if (!list.length) return;
    index = Math.max(0, Math.min(list.length - 1, index));
    list.forEach(function (row) {
      row.classList.remove("selected");
      row.removeAttribute("aria-selected");
    });
    var row = list[index];
    row.classList.add("selected");
    row.setAttribute("aria-selected", "true");
    row.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
  }

  function clickIfPresent(id) {
    var el = document.getElementById(id);
    if (!el) return false;
    el.click();
    // Straight into the text box of the tab's panel, so the agent can start typing.
    var panelId = el.getAttribute("aria-controls");
    var panel = panelId && document.getElementById(panelId);
    var field = panel && panel.querySelector("textarea");
    (field || el).focus();
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    var target = event.target;
    if (isTyping(target)) {
      if (event.key === "Escape") target.blur();
      return;
    }
    var list;
    switch (event.key) {
      case "j":
      case "k":
        list = rows();
        if (!list.length) return;
        var current = selectedIndex(list);
        var next = event.key === "j" ? current + 1 : (current < 0 ? 0 : current - 1);
        select(list, next);
        event.preventDefault();
        break;
      case "Enter":
        // Only when the row itself has focus: links and buttons keep their own Enter.
        if (target.matches && target.matches("tr[data-href].selected")) {
          window.location.href = target.getAttribute("data-href");
          event.preventDefault();
        }
        break;
      case "/":
        var search = document.getElementById("quick-search");
        if (search) {
          search.focus();
          search.select();
          event.preventDefault();
        }
        break;
      case "r":
        if (clickIfPresent("reply-tab")) event.preventDefault();
        break;
      case "n":
        if (clickIfPresent("note-tab")) event.preventDefault();
        break;
    }
  });

  // A click on a row selects it (but a click on its link or checkbox does what it always does).
  document.addEventListener("click", function (event) {
    var row = event.target.closest && event.target.closest("table.queue tbody tr[data-href]");
    if (!row || event.target.closest("a, input, button, label")) return;
    var list = rows();
    select(list, list.indexOf(row));
  });

  // "Select all" needs a script, so it stays hidden without one.
  function setUpSelectAll(root) {
    var all = (root || document).querySelector("#select-all");
    if (!all) return;
    all.hidden = false;
    all.addEventListener("change", function () {
      var table = all.closest("table");
      table.querySelectorAll('tbody input[type=checkbox][name=ticket]').forEach(function (box) {
        box.checked = all.checked;
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { setUpSelectAll(document); });
  document.addEventListener("htmx:afterSwap", function (event) { setUpSelectAll(event.target); });
})();
