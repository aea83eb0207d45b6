// peoplesync dashboard: progressive enhancement only; every page works without this file.
(function () {
  "use strict";

  // Live parts of the integration panel: poll the server-rendered status every second while a
  // sync runs, every 5 s otherwise (to show HiBob's ping and events), and swap only what changed
  // so keyboard focus stays put unless the content under it actually changed.
  function startLive(container) {
    var url = container.getAttribute("data-live-url");
    var timer = null;
    var stopped = false;

    function schedule(busy) {
      if (stopped) return;
      timer = window.setTimeout(poll, busy ? 1000 : 5000);
    }

    function poll() {
      if (document.hidden) { schedule(false); return; }
      fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin", cache: "no-store" })
        .then(function (response) {
          if (response.status === 401) { stopped = true; return null; }
          return response.ok ? response.json() : null;
        })
        .then(function (data) {
          if (!data) { schedule(false); return; }
          Object.keys(data.parts || {}).forEach(function (id) {
            var target = document.getElementById(id);
            if (target && target.getAttribute("data-html") !== data.parts[id]) {
              target.innerHTML = data.parts[id];
              target.setAttribute("data-html", data.parts[id]);
            }
          });
          document.body.setAttribute("data-sync-busy", data.busy ? "true" : "false");
          schedule(data.busy);
        })
        .catch(function () { schedule(false); });
    }

    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && !stopped) { window.clearTimeout(timer); poll(); }
    });
    poll();
  }

  function copyButtons() {
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var field = document.getElementById(button.getAttribute("data-copy"));
        if (!field) return;
        var label = button.textContent;
        function done(text) {
          button.textContent = text;
          window.setTimeout(function () { button.textContent = label; }, 2000);
        }
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(field.value).then(function () { done("Copied"); },
            function () { field.select(); done("Press Ctrl+C to copy"); });
        } else {
          field.select();
          done("Press Ctrl+C to copy");
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live-url]").forEach(startLive);
    copyButtons();
    var summary = document.querySelector("[data-focus-on-load]");
    if (summary) summary.focus();
  });
})();
