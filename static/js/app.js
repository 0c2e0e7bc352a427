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

// Live pages: the presence heartbeat, running durations, the HLS player and the camera preview.
(function () {
  "use strict";

  // The socket is the presence signal; a heartbeat every 20 s says the page is still open.
  var heartbeatTimer = null;
  document.addEventListener("htmx:wsOpen", function (event) {
    var socket = event.detail.socketWrapper;
    if (heartbeatTimer !== null) window.clearInterval(heartbeatTimer);
    heartbeatTimer = window.setInterval(function () {
      socket.send(JSON.stringify({ heartbeat: true }));
    }, 20000);
  });
  document.addEventListener("htmx:wsClose", function () {
    if (heartbeatTimer !== null) window.clearInterval(heartbeatTimer);
    heartbeatTimer = null;
  });

  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function tickDurations() {
    document.querySelectorAll("[data-duration-since]").forEach(function (el) {
      var since = Date.parse(el.dataset.durationSince);
      var until = el.dataset.durationUntil ? Date.parse(el.dataset.durationUntil) : Date.now();
      var seconds = Math.max(0, Math.floor((until - since) / 1000));
      el.textContent = Math.floor(seconds / 3600) + ":" + pad(Math.floor(seconds % 3600 / 60)) + ":" + pad(seconds % 60);
    });
  }
  window.setInterval(tickDurations, 1000);

  function startPlayers(root) {
    root.querySelectorAll("video[data-hls-src]:not([data-started])").forEach(function (video) {
      video.dataset.started = "1";
      var source = video.dataset.hlsSrc;
      if (window.Hls && window.Hls.isSupported()) {
        var player = new window.Hls({ enableWorker: false });
        player.loadSource(source);
        player.attachMedia(video);
      } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
        video.src = source;
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { startPlayers(document); });
  document.addEventListener("htmx:load", function (event) { startPlayers(event.target); });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-camera-preview]");
    if (!button) return;
    var video = document.getElementById(button.dataset.cameraPreview);
    var status = document.querySelector(".camera-status");
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      if (status) status.textContent = "This browser cannot open the camera.";
      return;
    }
    navigator.mediaDevices.getUserMedia({ video: true, audio: true }).then(function (stream) {
      video.srcObject = stream;
      video.play();
      if (status) status.textContent = "Camera and microphone are on (preview only, muted).";
    }).catch(function (error) {
      if (status) status.textContent = "Camera not available: " + error.message;
    });
  });
})();
