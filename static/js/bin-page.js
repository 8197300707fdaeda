// Hookloupe bin page additions: settings, times in the browser's zone, replay target memory.
// Loaded as a file (the CSP forbids inline script); captured data only through textContent.
(function () {
  "use strict";

  // --- times: <time datetime="ISO">UTC text</time> shown in the browser's zone ---------------
  // The server writes UTC text; here it becomes "2026-11-28 08:03:57 · 3 min ago" in the
  // browser's zone, with the UTC text kept as the tooltip. Relative ages refresh every 30 s.

  var REFRESH_MS = 30000;

  function pad(number, width) {
    var text = String(number);
    while (text.length < (width || 2)) text = "0" + text;
    return text;
  }

  function parseMoment(value) {
    if (!value) return null;
    // A stored time without a zone is UTC (the server writes every time in UTC).
    var iso = /[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : value + "Z";
    var ms = Date.parse(iso);
    return isNaN(ms) ? null : new Date(ms);
  }

  function localText(moment, withMs) {
    var text = moment.getFullYear() + "-" + pad(moment.getMonth() + 1) + "-" + pad(moment.getDate()) + " " +
      pad(moment.getHours()) + ":" + pad(moment.getMinutes()) + ":" + pad(moment.getSeconds());
    return withMs ? text + "." + pad(moment.getMilliseconds(), 3) : text;
  }

  function ageText(moment, now) {
    var seconds = Math.round((now - moment.getTime()) / 1000);
    var future = seconds < 0;
    var s = Math.abs(seconds);
    var words;
    if (s < 10) return "just now";
    if (s < 60) words = s + " s";
    else if (s < 3600) words = Math.floor(s / 60) + " min";
    else if (s < 86400) words = Math.floor(s / 3600) + " h";
    else {
      var days = Math.floor(s / 86400);
      words = days + (days === 1 ? " day" : " days");
    }
    return future ? "in " + words : words + " ago";
  }

  function showTime(element, now) {
    var utc = element.getAttribute("data-utc");
    if (utc === null) {
      utc = element.textContent.trim();
      element.setAttribute("data-utc", utc);
      element.setAttribute("title", utc.indexOf("UTC") >= 0 ? utc : utc + " UTC");
    }
    var moment = parseMoment(element.getAttribute("datetime"));
    if (!moment) return;
    var withMs = /\d\d:\d\d:\d\d\.\d/.test(utc);
    element.textContent = localText(moment, withMs) + " · " + ageText(moment, now);
    element.classList.add("local-time");
  }

  function showTimes(root) {
    var now = Date.now();
    root.querySelectorAll("time[datetime]").forEach(function (element) { showTime(element, now); });
  }

  // --- replay target: remembered per bin in localStorage, prefilled -------------------------

  var TARGET_KEY = "hookloupe.replayTarget.";

  function binId() {
    var bin = document.getElementById("bin");
    return bin ? bin.getAttribute("data-bin-id") : null;
  }

  function readTarget() {
    var id = binId();
    if (!id) return null;
    try { return window.localStorage.getItem(TARGET_KEY + id); } catch (error) { return null; }
  }

  function writeTarget(value) {
    var id = binId();
    if (!id || !value) return;
    try { window.localStorage.setItem(TARGET_KEY + id, value); } catch (error) { /* a convenience only */ }
  }

  function prefillTarget() {
    var input = document.getElementById("replay-url");
    if (!input || input.value) return;
    var stored = readTarget();
    if (stored) input.value = stored;
  }

  document.addEventListener("submit", function (event) {
    var form = event.target.closest && event.target.closest(".replay-form");
    if (!form) return;
    var input = form.querySelector("#replay-url");
    if (input) writeTarget(input.value.trim());
  }, true);

  // --- the bin head's "N of M kept" line follows the counts ---------------------------------

  var countTimer = null;

  document.addEventListener("hookloupe-counts-changed", function () {
    window.clearTimeout(countTimer);
    countTimer = window.setTimeout(function () {
      var line = document.getElementById("bin-count");
      if (line && window.htmx) {
        window.htmx.ajax("GET", line.getAttribute("data-src"), { target: "#bin-count", swap: "outerHTML" });
      }
    }, 500);
  }, true);  // capture: hookloupe.js dispatches it on <body> without bubbling

  // --- wiring ------------------------------------------------------------------------------

  // The whole page, not just the swap's target: out-of-band swaps (rows, deliveries) land
  // outside it. A time already shown keeps its UTC text in data-utc, so this is idempotent.
  document.addEventListener("htmx:afterSettle", function () {
    showTimes(document);
    prefillTarget();
  });
  document.addEventListener("htmx:sseMessage", function () { showTimes(document); });

  document.addEventListener("DOMContentLoaded", function () {
    showTimes(document);
    prefillTarget();
    window.setInterval(function () { showTimes(document); }, REFRESH_MS);
  });
})();
