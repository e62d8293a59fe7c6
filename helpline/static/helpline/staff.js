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

/* The shared workspace: live updates by conditional polling, presence, drafts, claim (c).
 *
 * A page with #queue-live or #ticket-live asks /staff/pulse/ every few seconds, without
 * cookies, with the stamp it last saw; a new stamp makes it fetch its fragment again through
 * the ordinary (signed-in, access-checked) views. Nothing moves under the cursor: changed queue
 * rows change in place, new rows wait behind "N new — show".
 *   c   claim ("Assign to me"): the ticket page, or the selected queue row
 */
(function () {
  "use strict";

  function csrf() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function post(url, fields) {
    var body = new FormData();
    Object.keys(fields).forEach(function (k) { body.append(k, fields[k]); });
    body.append("csrfmiddlewaretoken", csrf());
    return fetch(url, { method: "POST", body: body, credentials: "same-origin" });
  }

  function beacon(url, fields) {
    var body = new FormData();
    Object.keys(fields).forEach(function (k) { body.append(k, fields[k]); });
    body.append("csrfmiddlewaretoken", csrf());
    if (!(navigator.sendBeacon && navigator.sendBeacon(url, body))) {
      fetch(url, { method: "POST", body: body, keepalive: true, credentials: "same-origin" });
    }
  }

  // The poll: onChange() runs when the stamp differs from the first one seen (or the token
  // expired); it returns a promise and gives the next token to pulse.token.
  function Pulse(token, seconds, onChange) {
    this.token = token;
    this.etag = null;
    this.seconds = Math.max(1, seconds || 2);
    this.onChange = onChange;
    this.busy = false;
  }
  Pulse.prototype.start = function () {
    var self = this;
    var tick = function () {
      self.check().finally(function () { setTimeout(tick, self.seconds * 1000); });
    };
    tick();
  };
  Pulse.prototype.check = function () {
    var self = this;
    if (self.busy || !self.token || document.hidden) return Promise.resolve();
    var headers = self.etag ? { "If-None-Match": self.etag } : {};
    return fetch("/staff/pulse/?t=" + encodeURIComponent(self.token),
                 { credentials: "omit", cache: "no-store", headers: headers })
      .then(function (response) {
        // The answer is in the status and the ETag: drop the body, or the request stays open.
        if (response.body) response.body.cancel().catch(function () {});
        if (response.status === 304) return;
        var known = self.etag;
        if (response.status === 200) self.etag = response.headers.get("ETag");
        if (response.status === 200 && known === null) return;  // the page is this fresh
        self.busy = true;
        return self.onChange().finally(function () { self.busy = false; });
      })
      .catch(function () {});
  };

  function parse(html) {
    var doc = document.implementation.createHTMLDocument("");
    doc.body.innerHTML = html;
    return doc;
  }

  function refreshSidebar(active) {
    return fetch("/staff/live/sidebar/?active=" + encodeURIComponent(active || ""),
                 { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) {
        if (!html) return;
        var doc = parse(html);
        ["live-sidebar", "bell"].forEach(function (id) {
          var fresh = doc.getElementById(id), old = document.getElementById(id);
          if (fresh && old) old.replaceWith(document.importNode(fresh, true));
        });
      });
  }

  // ---- Queues -------------------------------------------------------------------------
  function queueLive() {
    var marker = document.getElementById("queue-live");
    if (!marker) return;
    var pending = null;  // the fetched results, shown on "show"
    var pulse = new Pulse(marker.dataset.pulse, +marker.dataset.poll, function () {
      return Promise.all([refreshQueue(), refreshSidebar(marker.dataset.active)]);
    });

    function refreshQueue() {
      return fetch(window.location.href, {
        credentials: "same-origin",
        headers: { "HX-Request": "true", "HX-Target": "queue-results" },
      }).then(function (r) { return r.ok ? r.text() : null; }).then(function (html) {
        if (html === null) return;
        var doc = parse(html);
        var freshMarker = doc.getElementById("queue-live");
        if (freshMarker) pulse.token = freshMarker.dataset.pulse;
        var shown = {};
        document.querySelectorAll("#queue-table tbody tr[data-number]").forEach(function (row) {
          shown[row.dataset.number] = row;
        });
        var added = 0, seen = {};
        doc.querySelectorAll("#queue-table tbody tr[data-number]").forEach(function (row) {
          var number = row.dataset.number;
          seen[number] = true;
          var old = shown[number];
          if (!old) { added += 1; return; }
          // In place: the row keeps its position, selection and checkbox.
          var checked = old.querySelector("input[name=ticket]");
          var keep = checked && checked.checked;
          old.className = row.className + (old.classList.contains("selected") ? " selected" : "");
          old.dataset.version = row.dataset.version;
          old.innerHTML = row.innerHTML;
          var box = old.querySelector("input[name=ticket]");
          if (box) box.checked = keep;
        });
        Object.keys(shown).forEach(function (number) {
          if (!seen[number]) shown[number].classList.add("gone");
        });
        var news = document.getElementById("live-news");
        pending = html;
        if (news) {
          news.hidden = added === 0;
          document.getElementById("show-new").textContent =
            added + " new — show";
        }
      });
    }

    document.addEventListener("click", function (event) {
      if (!event.target.closest || !event.target.closest("#show-new") || pending === null) return;
      var results = document.getElementById("queue-results");
      results.innerHTML = pending;
      pending = null;
      document.dispatchEvent(new CustomEvent("helpline:queue-replaced"));
      queueLive.restart();
    });
    queueLive.restart = function () {
      var fresh = document.getElementById("queue-live");
      if (fresh) pulse.token = fresh.dataset.pulse;
      pulse.etag = null;
    };
    document.addEventListener("htmx:afterSwap", function () { queueLive.restart(); });
    pulse.start();
  }

  // ---- The ticket page ----------------------------------------------------------------
  function ticketLive() {
    var marker = document.getElementById("ticket-live");
    if (!marker) return;
    var data = marker.dataset;
    var state = "viewing";

    function refresh() {
      var url = data.liveUrl + "?entry=" + data.entry + "&event=" + data.event;
      return fetch(url, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html === null) return;
          var doc = parse(html);
          var meta = doc.getElementById("live-meta");
          if (meta) {
            pulse.token = meta.dataset.pulse;
            data.entry = meta.dataset.entry;
            data.event = meta.dataset.event;
          }
          var items = doc.getElementById("live-items");
          var thread = document.getElementById("thread");
          var count = 0;
          if (items && thread) {
            Array.from(items.content.children).forEach(function (node) {
              if (node.id && document.getElementById(node.id)) return;
              var empty = thread.querySelector("p.muted");
              if (empty) empty.remove();
              thread.appendChild(document.importNode(node, true));
              if (node.tagName === "ARTICLE") count += 1;
            });
          }
          [["live-header", "ticket-header"], ["live-presence", "presence"]].forEach(function (pair) {
            var tpl = doc.getElementById(pair[0]), old = document.getElementById(pair[1]);
            var fresh = tpl && tpl.content.firstElementChild;
            if (fresh && old) old.replaceWith(document.importNode(fresh, true));
          });
          if (count) {
            var say = document.getElementById("live-announce");
            if (say) say.textContent = count + " new " + (count === 1 ? "entry" : "entries") + " in the thread";
          }
        });
    }

    var pulse = new Pulse(data.pulse, +data.poll, function () {
      return Promise.all([refresh(), refreshSidebar("")]);
    });

    function heartbeat() {
      if (!document.hidden) post(data.presenceUrl, { state: state }).catch(function () {});
    }
    heartbeat();
    setInterval(heartbeat, Math.max(2, +data.heartbeat || 8) * 1000);

    // Drafts: saved as the agent types (debounced), restored by the page, removed when sent.
    var timers = {}, dirty = {};
    [["reply", "reply-form"], ["note", "note-form"]].forEach(function (pair) {
      var form = document.getElementById(pair[1]);
      var box = form && form.querySelector("textarea[name=body]");
      if (!box) return;
      var status = document.createElement("span");
      status.className = "draft-status";
      status.setAttribute("aria-live", "polite");
      var actions = form.querySelector(".actions");
      if (actions) actions.appendChild(status);
      var save = function () {
        dirty[pair[0]] = false;
        state = box.value.trim() ? "replying" : "viewing";
        return post(data.draftUrl, { kind: pair[0], body: box.value })
          .then(function (r) { status.textContent = r.ok ? (box.value.trim() ? "Draft saved" : "") : ""; })
          .catch(function () {});
      };
      box.addEventListener("input", function () {
        dirty[pair[0]] = true;
        status.textContent = "";
        clearTimeout(timers[pair[0]]);
        timers[pair[0]] = setTimeout(save, 700);
      });
      form.addEventListener("submit", function () { dirty[pair[0]] = false; clearTimeout(timers[pair[0]]); });
      window.addEventListener("pagehide", function () {
        if (dirty[pair[0]]) beacon(data.draftUrl, { kind: pair[0], body: box.value });
      });
      if (box.value.trim()) state = "replying";
    });
    window.addEventListener("pagehide", function () { beacon(data.presenceUrl, { state: "left" }); });
    pulse.start();
  }

  // ---- Claim: c --------------------------------------------------------------------------
  document.addEventListener("keydown", function (event) {
    if (event.key !== "c" || event.ctrlKey || event.metaKey || event.altKey) return;
    var el = event.target;
    if (el && (el.isContentEditable || /^(TEXTAREA|SELECT)$/.test(el.tagName) ||
        (el.tagName === "INPUT" && !/^(checkbox|radio|button|submit|reset)$/.test(el.type)))) return;
    var row = document.querySelector("table.queue tbody tr.selected");
    var button = row ? row.querySelector("button.claim") : document.getElementById("claim-button");
    if (button) { event.preventDefault(); button.click(); }
  });

  document.addEventListener("DOMContentLoaded", function () { queueLive(); ticketLive(); });
})();
