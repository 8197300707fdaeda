// Hookloupe bin page additions: settings, times in the browser's zone, replay target memory.
// Loaded as a file (the CSP forbids inline script); captured data only through textContent.
(function () {
  "use strict";
})();
