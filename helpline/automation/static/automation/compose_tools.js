/* Insert a canned response or a knowledge base link into the reply box at the cursor.
 * Canned responses come from the server (htmx request on the button, rendered for the ticket);
 * article links are carried by the button itself (data-insert-text). */
(function () {
  "use strict";
  if (window.helplineComposeTools) return;
  window.helplineComposeTools = true;

  function insert(targetId, text) {
    var box = document.getElementById(targetId);
    if (!box || !text) return;
    var start = box.selectionStart, end = box.selectionEnd, value = box.value;
    if (typeof start !== "number") { start = end = value.length; }
    var before = value.slice(0, start), after = value.slice(end);
    var glue = before && !/\s$/.test(before) ? "\n" : "";
    box.value = before + glue + text + after;
    var caret = (before + glue + text).length;
    box.focus();
    box.setSelectionRange(caret, caret);
    box.dispatchEvent(new Event("input", { bubbles: true }));
  }

  document.addEventListener("htmx:afterRequest", function (event) {
    var el = event.detail.elt;
    if (!el || !el.dataset || !el.dataset.insertInto || !event.detail.successful) return;
    insert(el.dataset.insertInto, event.detail.xhr.responseText);
  });

  document.addEventListener("click", function (event) {
    var el = event.target.closest && event.target.closest("[data-insert-text]");
    if (!el) return;
    insert(el.dataset.insertInto || "reply_body", el.dataset.insertText);
  });
})();
