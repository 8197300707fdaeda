// Hookloupe page behaviour: copy buttons, recent bins, live-stream state, htmx error display,
// filters, the secrets panel, and a share link's page ending when the link is revoked.
// Loaded as a file (the CSP forbids inline script). Captured data is never read or written
// here except through textContent.
(function () {
  "use strict";

  var RECENT_KEY = "hookloupe.recentBins";
  var RECENT_MAX = 20;
  var BIN_ID = /^[A-Za-z0-9_-]{3,64}$/;
  // After this long without a working stream, "reconnecting" becomes "offline".
  var OFFLINE_AFTER_MS = 10000;

  // --- CSRF: every htmx request carries the page's token (Flask-WTF checks it on mutations) ---

  document.addEventListener("htmx:configRequest", function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) event.detail.headers["X-CSRFToken"] = meta.getAttribute("content");
  });

  // --- copy buttons: <button data-copy="element-id"> copies that element's text ----------------

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    // Plain-http deployments have no clipboard API: copy through a temporary selection.
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.appendChild(area);
    area.select();
    var done = document.execCommand("copy");
    area.remove();
    return done ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) return;
    copyText(source.textContent.trim()).then(
      function () { flashButton(button, "Copied"); },
      function () { flashButton(button, "Copy failed"); }
    );
  });

  function flashButton(button, label) {
    var original = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", original);
    button.textContent = label;
    window.setTimeout(function () { button.textContent = original; }, 1500);
  }

  // --- recent bins (localStorage) ---------------------------------------------------------

  function readRecent() {
    try {
      var stored = JSON.parse(window.localStorage.getItem(RECENT_KEY) || "[]");
      return Array.isArray(stored) ? stored.filter(function (id) { return BIN_ID.test(id); }) : [];
    } catch (error) {
      return [];
    }
  }

  function writeRecent(ids) {
    try {
      window.localStorage.setItem(RECENT_KEY, JSON.stringify(ids.slice(0, RECENT_MAX)));
    } catch (error) { /* storage full or disabled: the list is a convenience only */ }
  }

  function rememberBin(id) {
    if (!BIN_ID.test(id)) return;
    writeRecent([id].concat(readRecent().filter(function (other) { return other !== id; })));
  }

  function showRecent(list) {
    var ids = readRecent();
    list.replaceChildren();
    ids.forEach(function (id) {
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = "/bins/" + encodeURIComponent(id);
      link.textContent = id;
      item.appendChild(link);
      list.appendChild(item);
    });
    document.getElementById("recent-empty").hidden = ids.length > 0;
    document.getElementById("recent-forget").hidden = ids.length === 0;
  }

  // --- live stream state ------------------------------------------------------------------

  var offlineTimer = null;

  function setLiveState(state, label) {
    var status = document.getElementById("live-status");
    if (!status) return;
    status.setAttribute("data-state", state);
    status.textContent = label;
  }

  function startOfflineTimer() {
    if (offlineTimer === null) {
      offlineTimer = window.setTimeout(function () {
        setLiveState("offline", "offline · retrying");
      }, OFFLINE_AFTER_MS);
    }
  }

  function stopOfflineTimer() {
    window.clearTimeout(offlineTimer);
    offlineTimer = null;
  }

  var currentSource = null;
  // Set once a share link's page learns its link was revoked or expired: it stops for good.
  var accessEnded = false;

  function markLive() {
    if (accessEnded) return;
    stopOfflineTimer();
    setLiveState("live", "live");
  }

  // The share link is dead (its stream said `access_ended`, or a fragment request was answered
  // with the `hookloupe-access-ended` event): close the stream so it never reconnects, stop
  // every further request (the facets poll), and say so.
  function endAccess() {
    accessEnded = true;
    stopOfflineTimer();
    if (currentSource) currentSource.close();
    var live = document.getElementById("live");
    if (live) live.removeAttribute("sse-connect");
    setLiveState("ended", "access ended");
    var notice = document.getElementById("share-ended");
    if (notice) notice.hidden = false;
  }

  document.addEventListener("hookloupe-access-ended", endAccess);

  document.addEventListener("htmx:beforeRequest", function (event) {
    if (accessEnded) event.preventDefault();
  });

  document.addEventListener("htmx:sseOpen", function (event) {
    var source = currentSource = event.detail.source;
    if (accessEnded) { source.close(); return; }
    markLive();
    if (source.hookloupeWatched) return;  // the browser re-opened the same stream
    source.hookloupeWatched = true;
    source.addEventListener("bin_deleted", function () {
      source.close();
      setLiveState("offline", "offline · bin deleted");
    });
    source.addEventListener("access_ended", function () {
      source.close();
      endAccess();
    });
  });

  document.addEventListener("htmx:sseError", function () {
    if (accessEnded) return;
    setLiveState(navigator.onLine === false ? "offline" : "reconnecting",
                 navigator.onLine === false ? "offline" : "reconnecting…");
    startOfflineTimer();
  });

  window.addEventListener("offline", function () { if (!accessEnded) setLiveState("offline", "offline"); });
  // Coming back online may not break an open stream at all: trust its actual state.
  window.addEventListener("online", function () {
    if (accessEnded) return;
    if (currentSource && currentSource.readyState === EventSource.OPEN) {
      markLive();
    } else {
      setLiveState("reconnecting", "reconnecting…");
      startOfflineTimer();
    }
  });

  // A row already on the page (an event replayed after a reconnect) is not added twice.
  // (An `update` event replaces a row on purpose and carries no id of its own.)
  document.addEventListener("htmx:sseBeforeMessage", function (event) {
    if (event.detail.type !== "request") return;
    var id = parseInt(event.detail.lastEventId, 10);
    if (id > 0 && document.getElementById("req-" + id)) event.preventDefault();
  });

  // New and newly analysed rows change the list's counts: tell the facets, at most every
  // 750 ms while rows keep coming, and once more after the last one.
  var COUNTS_EVERY_MS = 750;
  var countsTimer = null;
  var countsPending = false;

  function countsChanged() {
    if (countsTimer !== null) { countsPending = true; return; }
    document.body.dispatchEvent(new CustomEvent("hookloupe-counts-changed"));
    countsTimer = window.setTimeout(function () {
      countsTimer = null;
      if (countsPending) { countsPending = false; countsChanged(); }
    }, COUNTS_EVERY_MS);
  }

  // If the stream has to be re-created (not just resumed by the browser with Last-Event-ID),
  // it starts after the newest row seen, so a reconnect misses nothing.
  document.addEventListener("htmx:sseMessage", function (event) {
    markLive();  // a message is proof the stream works
    countsChanged();
    if (event.detail.type !== "request") return;
    var id = parseInt(event.detail.lastEventId, 10);
    var live = document.getElementById("live");
    if (!(id > 0) || !live || !live.hasAttribute("sse-connect")) return;
    var url = new URL(live.getAttribute("sse-connect"), window.location.href);
    if (parseInt(url.searchParams.get("after") || "0", 10) < id) {
      url.searchParams.set("after", String(id));
      live.setAttribute("sse-connect", url.pathname + url.search);
    }
  });

  // --- htmx responses ---------------------------------------------------------------------

  // 4xx answers that carry an HTML fragment (e.g. "name taken") are meant to be shown.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    var type = xhr.getResponseHeader("Content-Type") || "";
    if (xhr.status >= 400 && xhr.status < 500 && type.indexOf("text/html") === 0) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  function showFlash(message) {
    var flash = document.getElementById("flash");
    if (!flash) return;
    flash.textContent = message;
    flash.hidden = false;
    window.setTimeout(function () { flash.hidden = true; }, 6000);
  }

  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    // A plain-text answer is the reason in one sentence ("400: unknown search name …"): show it
    // (as text, never as markup); anything else gets the status alone.
    var type = xhr.getResponseHeader("Content-Type") || "";
    var reason = type.indexOf("text/plain") === 0 ? (xhr.responseText || "").slice(0, 300).trim() : "";
    showFlash(reason || "The server answered " + xhr.status + (xhr.status === 404 ? " (already gone?)" : "") + ".");
  });

  document.addEventListener("htmx:sendError", function () {
    showFlash("Could not reach the server.");
  });

  // Mark the row whose details are open.
  function markSelected() {
    var detail = document.getElementById("detail");
    var id = detail && detail.getAttribute("data-capture-id");
    document.querySelectorAll(".request-row.selected").forEach(function (row) {
      row.classList.remove("selected");
    });
    var row = id && document.getElementById("req-" + id);
    if (row) row.classList.add("selected");
  }

  document.addEventListener("htmx:afterSettle", markSelected);

  // --- filters, secrets panel -------------------------------------------------------------

  // A changed select applies the filters at once (text fields wait for Enter or the button).
  document.addEventListener("change", function (event) {
    var select = event.target.closest("#filters select");
    if (select) select.form.requestSubmit();
  });

  // Show where the chosen provider keeps its signing secret (registry text, via textContent).
  document.addEventListener("change", function (event) {
    if (event.target.id !== "secret-provider") return;
    var hint = document.getElementById("secret-hint");
    var option = event.target.selectedOptions[0];
    if (hint) hint.textContent = option && option.getAttribute("data-hint") ? "Find it in: " + option.getAttribute("data-hint") : "";
  });

  // Adding or deleting a secret verifies every capture again (server side, in the
  // background): reload the list with its current filters, and the open signature section;
  // and once more when the facets say the re-check has finished.
  function reloadListAndSignature() {
    var filters = document.getElementById("filters");
    if (filters) filters.requestSubmit();
    var signature = document.getElementById("signature");
    if (signature && window.htmx) {
      window.htmx.ajax("GET", signature.getAttribute("data-src"), { target: "#signature", swap: "outerHTML" });
    }
  }

  document.addEventListener("hookloupe-secrets-changed", reloadListAndSignature);
  document.addEventListener("hookloupe-analysis-done", reloadListAndSignature);

  // --- detail pane: body loaded on demand, focus, phone layout, keyboard ----------------------

  // The replay form's body is fetched when "Edit before sending" is first opened (a large
  // capture's pane stays small; an unedited replay sends the stored bytes). `toggle` does not
  // bubble: listen in the capture phase.
  document.addEventListener("toggle", function (event) {
    var edits = event.target;
    if (!edits.matches || !edits.matches(".replay-edits") || !edits.open || !window.htmx) return;
    var slot = edits.querySelector("#replay-body-slot[data-src]");
    if (!slot || slot.hasAttribute("data-loaded")) return;
    slot.setAttribute("data-loaded", "");
    window.htmx.ajax("GET", slot.getAttribute("data-src"), { target: slot, swap: "innerHTML" });
  }, true);

  // One column (phones): the detail sits below the list, so an opened request is scrolled to.
  var ONE_COLUMN = window.matchMedia("(max-width: 900px)");
  // Set when the user opens a row (click, Enter): the swapped-in detail then takes the focus.
  var focusDetail = false;

  function showDetail() {
    var heading = document.getElementById("detail-heading");
    if (!heading) return;
    if (ONE_COLUMN.matches) {
      heading.focus({ preventScroll: true });
      heading.closest("#detail").scrollIntoView({ block: "start", behavior: "instant" });
    } else {
      heading.focus();  // two columns: the pane is beside the list; scroll only if it is off screen
    }
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest(".row-link");
    if (link) {
      focusDetail = true;
      markRead(link.closest(".request-row"));
      return;
    }
    if (event.target.closest("[data-back-to-list]")) {
      var live = document.getElementById("live");
      if (live) live.scrollIntoView({ block: "start", behavior: "instant" });
      var open = document.querySelector(".request-row.selected .row-link");
      if (open) open.focus({ preventScroll: true });
    }
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail.elt && event.detail.elt.id === "detail" && focusDetail) {
      focusDetail = false;
      if (ONE_COLUMN.matches || document.activeElement === document.body ||
          (document.activeElement && document.activeElement.closest(".request-list"))) {
        showDetail();
      }
    }
  });

  function isTyping(target) {
    return target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
  }

  // j / k move the selection through the list (focus on the row's link, so Enter opens it).
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) return;
    if (event.key !== "j" && event.key !== "k") return;
    var rows = Array.prototype.slice.call(document.querySelectorAll("#request-list > .request-row"));
    if (!rows.length) return;
    var current = document.activeElement && document.activeElement.closest(".request-row");
    current = current || document.querySelector(".request-row.cursor") || document.querySelector(".request-row.selected");
    var index = rows.indexOf(current);
    var next = index === -1 ? 0 : Math.min(rows.length - 1, Math.max(0, index + (event.key === "j" ? 1 : -1)));
    rows.forEach(function (row) { row.classList.remove("cursor"); });
    rows[next].classList.add("cursor");
    rows[next].querySelector(".row-link").focus();
    event.preventDefault();
  });

  // --- live list: count, unread markers, follow newest ----------------------------------------

  var SEEN_PREFIX = "hookloupe.seen.";
  var FOLLOW_KEY = "hookloupe.followNewest";

  function binId() {
    var bin = document.getElementById("bin");
    return bin ? bin.getAttribute("data-bin-id") : null;
  }

  function rowId(row) { return parseInt(row.id.slice(4), 10); }

  function storedNumber(key) {
    try { return parseInt(window.localStorage.getItem(key) || "", 10); } catch (error) { return NaN; }
  }

  function storeValue(key, value) {
    try { window.localStorage.setItem(key, String(value)); } catch (error) { /* a convenience only */ }
  }

  function showCount() {
    var count = document.getElementById("capture-count");
    if (!count) return;
    var total = parseInt(count.getAttribute("data-count"), 10) || 0;
    var unread = document.querySelectorAll("#request-list > .request-row.unread").length;
    count.textContent = total + (total === 1 ? " request" : " requests") + (unread ? " · " + unread + " unread" : "");
  }

  function setCount(total) {
    var count = document.getElementById("capture-count");
    if (!count || !(total >= 0)) return;
    count.setAttribute("data-count", String(total));
    showCount();
  }

  function addToCount(delta) {
    var count = document.getElementById("capture-count");
    if (count) setCount(Math.max(0, (parseInt(count.getAttribute("data-count"), 10) || 0) + delta));
  }

  function markRead(row) {
    if (row && row.classList.contains("unread")) {
      row.classList.remove("unread");
      showCount();
    }
  }

  // Everything listed has been looked at: remember the newest id for this bin.
  function markAllRead() {
    var rows = document.querySelectorAll("#request-list > .request-row");
    rows.forEach(function (row) { row.classList.remove("unread"); });
    var bin = binId();
    if (bin && rows.length) {
      storeValue(SEEN_PREFIX + bin, Math.max(rowId(rows[0]), storedNumber(SEEN_PREFIX + bin) || 0));
    }
    showCount();
  }

  // Rows newer than the last look are unread (a first visit has nothing unread).
  function markUnreadSinceLastLook() {
    var bin = binId();
    var live = document.getElementById("live");
    if (!bin || !live) return;  // a share link's page has no bin id: no markers
    var seen = storedNumber(SEEN_PREFIX + bin);
    var rows = document.querySelectorAll("#request-list > .request-row");
    if (isNaN(seen)) {
      markAllRead();
      return;
    }
    var open = document.getElementById("detail");
    var openId = open && open.getAttribute("data-capture-id");
    rows.forEach(function (row) {
      if (rowId(row) > seen && row.id !== "req-" + openId) row.classList.add("unread");
    });
    showCount();
  }

  function followBox() { return document.getElementById("follow-newest"); }

  function restoreFollow() {
    var box = followBox();
    if (box) box.checked = storedNumber(FOLLOW_KEY) === 1;
  }

  document.addEventListener("change", function (event) {
    if (event.target.id === "follow-newest") storeValue(FOLLOW_KEY, event.target.checked ? 1 : 0);
  });

  // Scrolling the list back to its top means the user has seen the newest rows.
  document.addEventListener("scroll", function (event) {
    if (event.target.id === "request-list" && event.target.scrollTop <= 0) markAllRead();
  }, true);

  document.addEventListener("htmx:sseMessage", function (event) {
    if (event.detail.type !== "request") return;
    var row = document.getElementById("req-" + parseInt(event.detail.lastEventId, 10));
    if (!row || row.hasAttribute("data-counted")) return;
    row.setAttribute("data-counted", "");
    addToCount(1);
    var box = followBox();
    if (box && box.checked && window.htmx) {
      // Follow newest: open it, without taking the focus from whatever the user is doing.
      window.htmx.ajax("GET", row.querySelector(".row-link").getAttribute("hx-get"), { target: "#detail", swap: "outerHTML" });
      return;
    }
    row.classList.add("unread");
    showCount();
  });

  // A deleted request leaves the count; clear-all empties it.
  document.addEventListener("htmx:afterRequest", function (event) {
    var config = event.detail.requestConfig;
    if (!event.detail.successful || !config || config.verb !== "delete") return;
    if (/\/requests\/\d+$/.test(config.path)) addToCount(-1);
    else if (/\/requests$/.test(config.path)) setCount(0);
  });

  // The list pane is swapped whole when the filters change: its markers and toggle come back.
  document.addEventListener("htmx:afterSettle", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.id === "live") {
      markUnreadSinceLastLook();
      restoreFollow();
    }
    // The facets reload whenever counts change and know the bin's exact total.
    var counts = elt && elt.id === "facets" && document.getElementById("bin-counts");
    if (counts) setCount(parseInt(counts.textContent, 10));
    var detail = document.getElementById("detail");
    var open = detail && detail.getAttribute("data-capture-id");
    if (open) markRead(document.getElementById("req-" + open));
  });

  document.addEventListener("DOMContentLoaded", function () {
    markUnreadSinceLastLook();
    restoreFollow();
  });

  // --- start ------------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", function () {
    var bin = document.getElementById("bin");
    if (bin) rememberBin(bin.getAttribute("data-bin-id"));
    var recent = document.getElementById("recent-bins");
    if (recent) {
      showRecent(recent);
      document.getElementById("recent-forget").addEventListener("click", function () {
        writeRecent([]);
        showRecent(recent);
      });
    }
    markSelected();
  });
})();
