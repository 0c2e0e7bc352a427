// The show player (templates/live/_video.html and the seller's preview): HLS through the vendored
// hls.js (native HLS where the browser has it), MP4 recordings for replays, muted autoplay with
// "Tap to unmute", the poster, an honest "Reconnecting…", and replays whose chat and chapters
// follow the video. Also the stream setup's copy buttons. No inline scripts (the CSP forbids them).
(function () {
  "use strict";

  var RETRY_MS = 2000;
  var STALL_MS = 4000;

  function frameOf(video) { return video.closest("[data-player]") || video.parentElement; }
  function part(video, selector) { var frame = frameOf(video); return frame ? frame.querySelector(selector) : null; }

  function say(video, text) {
    var message = part(video, "[data-player-message]");
    if (!message) return;
    message.textContent = text || "";
    message.hidden = !text;
  }

  function showPoster(video, on) {
    var poster = part(video, "[data-player-poster]");
    if (poster) poster.hidden = !on;
    video.hidden = on;
    var unmute = part(video, "[data-unmute]");
    if (unmute) unmute.hidden = on || !video.muted;
  }

  function stateOf(video) {
    var id = video.dataset.followState;
    var element = id ? document.getElementById(id) : part(video, "[data-video-state]");
    return element ? element.dataset.videoState : null;
  }

  function Player(video) {
    this.video = video;
    this.source = video.dataset.videoSrc;
    this.hls = null;
    this.retryTimer = null;
    this.stallTimer = null;
    this.ended = false;
    var self = this;
    video.muted = true;
    video.addEventListener("playing", function () {
      self.clearStall();
      say(video, "");
      showPoster(video, false);
    });
    video.addEventListener("waiting", function () { self.watchStall(); });
    video.addEventListener("volumechange", function () { self.updateUnmute(); });
    video.addEventListener("timeupdate", function () { followReplay(video); });
    video.addEventListener("seeked", function () { followReplay(video); });
    video.addEventListener("ended", function () { if (!video.hasAttribute("data-replay")) self.stop(); });
    var unmute = part(video, "[data-unmute]");
    if (unmute) unmute.addEventListener("click", function () {
      video.muted = false;
      video.play().catch(function () {});
    });
    this.updateUnmute();
  }

  Player.prototype.updateUnmute = function () {
    var unmute = part(this.video, "[data-unmute]");
    if (unmute) unmute.hidden = !this.video.muted || this.ended || this.video.hidden;
  };

  Player.prototype.clearStall = function () {
    if (this.stallTimer !== null) window.clearTimeout(this.stallTimer);
    this.stallTimer = null;
  };

  Player.prototype.watchStall = function () {
    var self = this;
    if (this.stallTimer !== null || this.video.hasAttribute("data-replay")) return;
    this.stallTimer = window.setTimeout(function () {
      self.stallTimer = null;
      if (!self.ended) say(self.video, "Reconnecting…");
    }, STALL_MS);
  };

  Player.prototype.play = function () {
    var video = this.video;
    var promise = video.play();
    if (promise && promise.catch) promise.catch(function () { /* autoplay refused: the controls remain */ });
  };

  Player.prototype.load = function () {
    var self = this;
    var video = this.video;
    if (this.ended) return;
    this.unload();
    if (!/\.m3u8(\?|$)/.test(this.source)) {
      video.src = this.source;
      this.play();
      return;
    }
    if (window.Hls && window.Hls.isSupported()) {
      var hls = new window.Hls({ enableWorker: false, liveSyncDurationCount: 2, liveMaxLatencyDurationCount: 6,
                                 manifestLoadingMaxRetry: 0, levelLoadingMaxRetry: 2 });
      this.hls = hls;
      video.hlsPlayer = hls;  // its `latency` is what bench/video.py measures
      hls.on(window.Hls.Events.MANIFEST_PARSED, function () { self.play(); });
      hls.on(window.Hls.Events.ERROR, function (event, data) {
        if (!data.fatal) return;
        if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR) {
          hls.recoverMediaError();
          return;
        }
        self.retry();
      });
      hls.loadSource(this.source);
      hls.attachMedia(video);
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = this.source;
      video.addEventListener("error", function () { self.retry(); }, { once: true });
      this.play();
    }
  };

  Player.prototype.unload = function () {
    if (this.retryTimer !== null) window.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.hls) this.hls.destroy();
    this.hls = null;
  };

  // The playlist is not there yet, or the encoder dropped: say so and try again shortly.
  Player.prototype.retry = function () {
    var self = this;
    this.unload();
    if (this.ended) return;
    say(this.video, "Reconnecting…");
    this.retryTimer = window.setTimeout(function () { self.retryTimer = null; self.follow(); }, RETRY_MS);
  };

  // What the media server says (pushed over the page's socket) decides what the player does.
  Player.prototype.follow = function () {
    var state = stateOf(this.video);
    if (this.ended) return;
    if (state === "offline") {
      this.unload();
      say(this.video, "");
      showPoster(this.video, true);
      return;
    }
    showPoster(this.video, false);
    if (state === "lost") say(this.video, "Reconnecting…");
    if (!this.hls && !this.video.currentSrc) this.load();
  };

  Player.prototype.stop = function () {
    this.ended = true;
    this.unload();
    this.clearStall();
    say(this.video, "");
    this.video.removeAttribute("src");
    this.video.load();
    showPoster(this.video, true);
    var posterText = part(this.video, "[data-player-poster] .muted");
    if (posterText) posterText.textContent = "The show has ended.";
    this.updateUnmute();
  };

  var players = [];

  function start(root) {
    root.querySelectorAll("video[data-video-src]:not([data-started])").forEach(function (video) {
      if (!video.dataset.videoSrc) return;
      video.dataset.started = "1";
      var player = new Player(video);
      players.push(player);
      player.lastState = stateOf(video);
      player.follow();
    });
  }

  // Replays: chat lines appear when the video reaches the moment they were written.
  function followReplay(video) {
    if (!video.hasAttribute("data-replay")) return;
    var now = video.currentTime;
    document.querySelectorAll("[data-replay-at]").forEach(function (line) {
      line.hidden = parseFloat(line.dataset.replayAt) > now;
    });
  }

  document.addEventListener("click", function (event) {
    var chapter = event.target.closest("[data-seek]");
    if (chapter) {
      var video = document.querySelector("video[data-replay]");
      if (video) {
        video.currentTime = parseFloat(chapter.dataset.seek);
        video.play().catch(function () {});
      }
      return;
    }
    var copy = event.target.closest("[data-copy]");
    if (copy) {
      var source = document.getElementById(copy.dataset.copy);
      var original = copy.dataset.label || copy.textContent;
      copy.dataset.label = original;
      var done = function () {
        copy.textContent = "Copied";
        window.setTimeout(function () { copy.textContent = original; }, 1500);
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(source.textContent.trim()).then(done, function () {
          window.getSelection().selectAllChildren(source);
        });
      } else {
        window.getSelection().selectAllChildren(source);
      }
    }
  });

  // "Go live with this camera": MediaRecorder chunks over a websocket; the server pipes them
  // through ffmpeg into the same RTMP ingest OBS uses, and the show goes live when video arrives.
  var sending = null;
  var RECORDER_TYPES = ["video/webm;codecs=vp8,opus", "video/webm;codecs=h264,opus", "video/webm"];

  function stopSending(message) {
    if (!sending) return;
    var current = sending;
    sending = null;
    if (current.recorder.state !== "inactive") current.recorder.stop();
    if (current.socket.readyState <= 1) current.socket.close();
    current.button.textContent = current.label;
    var status = document.querySelector(".camera-status");
    if (status && message) status.textContent = message;
    // The show ended and its setup went (pushed): turn the camera and microphone off too.
    if (!document.body.contains(current.button)) {
      current.media.getTracks().forEach(function (track) { track.stop(); });
    }
  }

  // Once the camera is on, its preview button has done its work, and the encoder's settings
  // fold away: the card keeps what arrives, the camera and the Stop button.
  function cameraOn(button) {
    var setup = button.closest(".video-setup");
    if (!setup) return;
    var preview = setup.querySelector("[data-camera-preview]");
    if (preview) preview.hidden = true;
    var encoder = setup.querySelector("details");
    if (encoder) encoder.open = false;
  }

  function sendCamera(button) {
    var status = document.querySelector(".camera-status");
    var preview = document.getElementById(button.dataset.camera);
    if (!navigator.mediaDevices || !window.MediaRecorder || !window.WebSocket) {
      if (status) status.textContent = "This browser cannot send its camera.";
      return;
    }
    var ready = preview && preview.srcObject ? Promise.resolve(preview.srcObject)
      : navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720 }, audio: true });
    ready.then(function (media) {
      if (preview && preview.srcObject !== media) {
        preview.srcObject = media;
        preview.hidden = false;
        preview.play().catch(function () {});
      }
      var type = RECORDER_TYPES.filter(function (candidate) { return MediaRecorder.isTypeSupported(candidate); })[0];
      var recorder = new MediaRecorder(media, type ? { mimeType: type, videoBitsPerSecond: 2500000 } : {});
      // Same host and scheme as the page (behind a TLS proxy the server may not know it is wss).
      var path = new URL(button.dataset.browserPublish, location.href).pathname;
      var socket = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + path);
      sending = { socket: socket, recorder: recorder, media: media, button: button, label: button.textContent };
      recorder.addEventListener("dataavailable", function (event) {
        if (event.data.size && socket.readyState === 1) socket.send(event.data);
      });
      socket.addEventListener("open", function () {
        recorder.start(500);
        cameraOn(button);
        button.textContent = "Stop sending camera";
        var onAir = document.querySelector(".stream-controls .pill-live");
        if (status) status.textContent = onAir ? "Sending your camera." : "Sending your camera: you go live as soon as it arrives.";
      });
      socket.addEventListener("close", function () { stopSending("Your camera is no longer being sent."); });
    }).catch(function (error) {
      if (status) status.textContent = "Camera not available: " + error.message;
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-browser-publish]");
    if (!button) return;
    if (sending) stopSending("You stopped sending your camera.");
    else sendCamera(button);
  });

  // Pushed fragments change the video state (arrived, lost) and the show's status (ended); the
  // players look at them every second rather than hooking into how each swap happens.
  function watch() {
    var ended = document.querySelector(".stream-status.status-ended");
    players.forEach(function (player) {
      if (ended && !player.video.hasAttribute("data-replay")) {
        if (!player.ended) player.stop();
        return;
      }
      var state = stateOf(player.video);
      if (state !== player.lastState) {
        player.lastState = state;
        player.follow();
      }
    });
  }
  window.setInterval(watch, 1000);

  // Video may have arrived between the page's render and its socket's subscription: once the
  // socket is open, fetch the live regions once (the page's poll fragment includes the state).
  var caughtUp = false;
  document.addEventListener("htmx:wsOpen", function () {
    if (caughtUp || !document.querySelector("[data-video-state]")) return;
    caughtUp = true;
    window.htmx.trigger(document.body, "socket-poll");
  });

  function init() {
    start(document);
    document.querySelectorAll("[data-replay-at]").forEach(function (line) { line.hidden = true; });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
