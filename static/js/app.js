// Streamshop's only script: CSRF for htmx, flash dismissal, and the polling fallback while a
// page's websocket is down. No inline scripts anywhere (the CSP forbids them).
(function () {
  "use strict";

  // Every htmx request carries the CSRF token from the page's meta tag.
  document.addEventListener("htmx:configRequest", function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) event.detail.headers["X-CSRFToken"] = meta.content;
  });

  document.addEventListener("click", function (event) {
    var close = event.target.closest(".flash-close");
    if (close) close.closest(".flash").remove();
  });

  // Live regions listen for `socket-poll` on the body (hx-trigger="socket-poll from:body").
  // While the socket is down we fire it every data-poll-ms; once it is back, one last time to
  // catch up with anything published while it was away.
  var pollTimer = null;
  var wasDown = false;

  function pollInterval(event) {
    var host = event.target.closest("[data-poll-ms]");
    return host ? parseInt(host.dataset.pollMs, 10) || 10000 : 10000;
  }

  function socketDown(event) {
    document.body.classList.add("socket-down");
    wasDown = true;
    if (pollTimer === null) {
      pollTimer = window.setInterval(function () {
        htmx.trigger(document.body, "socket-poll");
      }, pollInterval(event));
    }
  }

  function socketUp() {
    document.body.classList.remove("socket-down");
    document.body.classList.add("socket-up");
    if (pollTimer !== null) {
      window.clearInterval(pollTimer);
      pollTimer = null;
    }
    if (wasDown) htmx.trigger(document.body, "socket-poll");
    wasDown = false;
  }

  document.addEventListener("htmx:wsOpen", socketUp);
  document.addEventListener("htmx:wsClose", socketDown);
  document.addEventListener("htmx:wsError", socketDown);
})();

// Forms that destroy something ask first (data-confirm holds the question).
document.addEventListener("submit", function (event) {
  var form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
}, true);
