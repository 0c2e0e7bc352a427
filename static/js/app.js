// Streamshop's only script: CSRF for htmx, flash dismissal, and the polling fallback while a
// page's websocket is down. No inline scripts anywhere (the CSP forbids them).
(function () {
  "use strict";

  // Every htmx request carries the CSRF token from the page's meta tag.
  document.addEventListener("htmx:configRequest", function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) event.detail.headers["X-CSRFToken"] = meta.content;
  });

  // The show's chat: a sent message answers 204 and the form stays as it is, so whatever the
  // viewer typed while it was on its way is kept (a swapped-in form would wipe it, and htmx would
  // drop a Send pressed meanwhile). A message sent while the last is on its way waits its turn
  // (hx-sync queue); the input is cleared only if it still holds the message that went, and an
  // empty input sends nothing (a second press after the first went through).
  function chatInput(elt) {
    return elt && elt.matches && elt.matches(".comment-form form[hx-post]") ? elt.querySelector("input[name=comment]") : null;
  }
  document.addEventListener("htmx:configRequest", function (event) {
    var input = chatInput(event.detail.elt);
    if (!input) return;
    if (!input.value.trim()) { event.preventDefault(); return; }
    event.detail.elt.dataset.sending = input.value;
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var input = chatInput(event.detail.elt);
    if (!input || event.detail.xhr.status !== 204) return;
    if (input.value === event.detail.elt.dataset.sending) input.value = "";
    var error = event.detail.elt.parentNode.querySelector(".error");
    if (error) error.remove();
  });

  document.addEventListener("click", function (event) {
    var close = event.target.closest(".flash-close");
    if (close) close.closest(".flash").remove();
    // On phones the header's nav folds behind the Menu button.
    var menu = event.target.closest(".menu-toggle");
    if (menu) {
      var open = menu.closest(".site-header").classList.toggle("menu-open");
      menu.setAttribute("aria-expanded", open ? "true" : "false");
    }
  });

  // Live regions listen for `socket-poll` on the body (hx-trigger="socket-poll from:body").
  // While the socket is down we fire it every data-poll-ms; once it is back, one last time to
  // catch up with anything published while it was away. The server closes sockets with 1013
  // (and refuses new ones) while its hub has lost Redis, so this is also how pages ride out an
  // outage: they poll, retry the socket every few seconds, and catch up when it opens again.
  htmx.config.wsReconnectDelay = function (retryCount) {
    // Full jitter like the extension's default, but capped at 5 s instead of 64 s, so a page is
    // live again within seconds of the server.
    return Math.min(5000, 500 * Math.pow(2, retryCount)) * Math.random();
  };
  var pollTimer = null;
  var wasDown = false;

  function pollInterval(event) {
    var host = event.target.closest("[data-poll-ms]");
    return host ? parseInt(host.dataset.pollMs, 10) || 10000 : 10000;
  }

  function socketDown(event) {
    document.body.classList.remove("socket-up");
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

// A form pushed over the socket was rendered for nobody, so it carries no CSRF token (web.py's
// csrf_field): the page's own token goes in as it is sent. Without it, the console's "End stream"
// pushed when video made the show live answered 400.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form.method.toLowerCase() !== "post" || form.querySelector('input[name="csrf_token"]')) return;
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (!meta) return;
  var input = document.createElement("input");
  input.type = "hidden";
  input.name = "csrf_token";
  input.value = meta.content;
  form.appendChild(input);
});

// Forms that destroy something ask first (data-confirm holds the question). This listener runs
// first (capture, on the document): "Cancel" stops the event before it reaches the form, where
// htmx listens for an hx-post form's submit (htmx ignores preventDefault, so that alone let a
// cancelled "End flash sale" through). "OK" marks the form confirmed=yes: a route that asks on a
// page of its own when the form was posted unconfirmed (before this script ran, or without it)
// knows the question was answered.
document.addEventListener("submit", function (event) {
  var form = event.target.closest("form[data-confirm]");
  if (!form) return;
  if (!window.confirm(form.dataset.confirm)) {
    event.preventDefault();
    event.stopPropagation();
    return;
  }
  var confirmed = form.querySelector('input[name="confirmed"]');
  if (!confirmed) {
    confirmed = document.createElement("input");
    confirmed.type = "hidden";
    confirmed.name = "confirmed";
    form.appendChild(confirmed);
  }
  confirmed.value = "yes";
}, true);

// Live pages: the presence heartbeat, running durations and the camera preview (the player is
// static/js/player.js).
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

  // A form marked data-socket-action (an auction's bid form) goes over the page's open socket:
  // in an auction's last seconds a bid is then a message, not a request each time, and its answer
  // comes back on the socket (an element swapped by its id). While the socket is down the form
  // posts as usual; nothing is queued to be sent later, when the price will have moved on.
  var openSocket = null;
  document.addEventListener("htmx:wsOpen", function (event) { openSocket = event.detail.socketWrapper; });
  document.addEventListener("htmx:wsClose", function () { openSocket = null; });
  document.addEventListener("htmx:wsError", function () { openSocket = null; });
  document.addEventListener("htmx:configRequest", function (event) {
    var form = event.detail.elt;
    if (!openSocket || !form.matches || !form.matches("form[data-socket-action]")) return;
    if (event.detail.errors && event.detail.errors.length) return;
    var message = { action: form.dataset.socketAction };
    Object.keys(form.dataset).forEach(function (key) {
      // data-socket-auction-id="7" -> auction_id: 7
      if (key.indexOf("socketField") === 0) {
        var name = key.slice("socketField".length).replace(/[A-Z]/g, function (c) { return "_" + c.toLowerCase(); }).slice(1);
        message[name] = parseInt(form.dataset[key], 10);
      }
    });
    event.detail.formData.forEach(function (value, name) { message[name] = value; });
    openSocket.send(JSON.stringify(message));
    event.preventDefault();
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

  // Times the server writes in UTC are shown in the reader's own time zone.
  function localTimes(root) {
    root.querySelectorAll("time[data-local-time]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when)) return;
      el.textContent = when.toLocaleString(undefined, { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
      el.title = when.toString();
    });
  }
  document.addEventListener("DOMContentLoaded", function () { localTimes(document); });
  document.addEventListener("htmx:load", function (event) { localTimes(event.target); });


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
      video.hidden = false;
      video.play();
      button.hidden = true;  // the camera is on: "Go live with this camera" (if offered) is next
      if (status) status.textContent = "Camera and microphone are on (preview only, muted).";
    }).catch(function (error) {
      if (status) status.textContent = "Camera not available: " + error.message;
    });
  });
})();

// Studio: live regions, the profile dialog and tag chips.
(function () {
  "use strict";

  // A pushed account card means a batch landed. Regions that show live data listen for
  // `studio-changed` and refetch themselves; at most one refetch a second however busy the LIVE,
  // and always one after the last batch, so they end up current.
  var pulseTimer = null;
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    if (!event.target.matches || !event.target.matches("[data-studio-pulse]") || pulseTimer !== null) return;
    pulseTimer = window.setTimeout(function () {
      pulseTimer = null;
      htmx.trigger(document.body, "studio-changed");
    }, 1000);
  });

  // The overview's "Total viewers" and "Total coins" are the account card's "Viewers recorded" and
  // "Coins received" (both kept on the account row). The card is pushed after every batch, the
  // overview refetched at most once a second, so on their own the two would disagree during a
  // LIVE: the overview's cards take the card's figures, the latest, whenever either is swapped in.
  function shareFigures() {
    document.querySelectorAll("[id^='account-card-'] [data-figure]").forEach(function (figure) {
      var accountId = figure.closest("[id^='account-card-']").id.slice("account-card-".length);
      var overview = document.getElementById("overview-" + accountId);
      var stat = overview && overview.querySelector("[data-stat='" + figure.dataset.figure + "']");
      if (stat && stat.textContent !== figure.textContent) stat.textContent = figure.textContent;
    });
  }
  ["htmx:oobAfterSwap", "htmx:afterSwap", "htmx:afterSettle"].forEach(function (name) {
    document.addEventListener(name, shareFigures);
  });

  // "Profile" links in the table load the profile into the dialog, then open it.
  document.addEventListener("htmx:afterSwap", function (event) {
    var trigger = event.detail.requestConfig && event.detail.requestConfig.elt;
    var dialogId = trigger && trigger.dataset ? trigger.dataset.opensDialog : null;
    if (!dialogId) return;
    var dialog = document.getElementById(dialogId);
    if (dialog && !dialog.open) dialog.showModal();
  });

  // Tags as chips: Enter (or a comma) in "Add tags" adds a chip; × removes one. The chips are
  // hidden inputs named "tags", so the form posts them like any other field.
  function addChips(input) {
    var list = input.form && input.form.querySelector("[data-chips]");
    if (!list) return;
    var existing = Array.prototype.map.call(list.querySelectorAll("input[name=tags]"), function (el) { return el.value; });
    input.value.split(",").forEach(function (raw) {
      var tag = raw.trim().toLowerCase();
      if (!tag || existing.indexOf(tag) !== -1) return;
      existing.push(tag);
      var chip = document.createElement("li");
      chip.className = "chip";
      var hidden = document.createElement("input");
      hidden.type = "hidden";
      hidden.name = "tags";
      hidden.value = tag;
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "chip-remove";
      remove.setAttribute("aria-label", "Remove tag " + tag);
      remove.textContent = "×";
      chip.appendChild(hidden);
      chip.appendChild(document.createTextNode(tag + " "));
      chip.appendChild(remove);
      list.appendChild(chip);
    });
    input.value = "";
  }
  document.addEventListener("keydown", function (event) {
    var input = event.target;
    if (input.name !== "new_tags" || (event.key !== "Enter" && event.key !== ",")) return;
    event.preventDefault();
    addChips(input);
  });
  document.addEventListener("click", function (event) {
    var remove = event.target.closest(".chip-remove");
    if (remove) remove.closest(".chip").remove();
  });
})();

// The show page: the Shop sheet, closing sheets, and a chat that follows new messages unless the
// reader has scrolled up (then a "New messages" pill says there are more below).
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var toggle = event.target.closest(".shop-toggle, .shop-close");
    if (toggle) {
      var sheet = document.getElementById(toggle.getAttribute("aria-controls"));
      var open = toggle.classList.contains("shop-toggle") ? !sheet.classList.contains("open") : false;
      sheet.classList.toggle("open", open);
      document.querySelectorAll('.shop-toggle[aria-controls="' + sheet.id + '"]').forEach(function (button) {
        button.setAttribute("aria-expanded", open ? "true" : "false");
      });
      if (open) { sheet.setAttribute("tabindex", "-1"); sheet.focus(); }
    }
    var closer = event.target.closest("[data-close-dialog]");
    if (closer) {
      var dialog = document.getElementById(closer.dataset.closeDialog);
      if (dialog && dialog.open) dialog.close();
    }
    // A product bought from the Shop sheet: the sheet gives way to the checkout sheet.
    if (event.target.closest('.shop-sheet.open [data-opens-dialog]')) {
      var shop = event.target.closest(".shop-sheet");
      shop.classList.remove("open");
    }
    var pill = event.target.closest(".new-messages-pill");
    if (pill) {
      var log = document.getElementById(pill.dataset.scrollTo);
      if (log) log.scrollTop = log.scrollHeight;
      pill.hidden = true;
    }
  });

  // Whether each chat log is scrolled to its end; kept up to date as the reader scrolls.
  function atEnd(log) { return log.scrollHeight - log.scrollTop - log.clientHeight < 24; }
  document.addEventListener("scroll", function (event) {
    var log = event.target;
    if (!log.matches || !log.matches(".chat-log, [data-follow-end]")) return;
    // Only the reader scrolling up stops the following: the scroll event of our own jump to the
    // end can arrive after more lines were appended (a busy TikTok chat), no longer at the end.
    var up = log.scrollTop < (log.followedTop || 0) - 1;
    log.followedTop = log.scrollTop;
    log.dataset.atEnd = atEnd(log) || (!up && log.dataset.atEnd !== "0") ? "1" : "0";
    if (log.dataset.atEnd === "1") {
      var pill = document.querySelector('[data-scroll-to="' + log.id + '"]');
      if (pill) pill.hidden = true;
    }
  }, true);

  function follow(log) {
    if (log.dataset.atEnd === "0") {
      var pill = document.querySelector('[data-scroll-to="' + log.id + '"]');
      if (pill) pill.hidden = false;
    } else {
      log.scrollTop = log.scrollHeight;
    }
  }
  function followAll() { document.querySelectorAll(".chat-log, [data-follow-end]").forEach(function (log) { log.scrollTop = log.scrollHeight; }); }
  document.addEventListener("DOMContentLoaded", function () {
    followAll();
    new MutationObserver(function (mutations) {
      var seen = [];
      mutations.forEach(function (mutation) {
        var target = mutation.target.nodeType === 1 ? mutation.target : mutation.target.parentElement;
        var log = target && target.closest(".chat-log, [data-follow-end]");
        if (!log && mutation.addedNodes.length) {
          mutation.addedNodes.forEach(function (node) {
            if (node.nodeType === 1 && node.matches(".chat-log, [data-follow-end]")) log = node;
          });
        }
        if (log && seen.indexOf(log) === -1) seen.push(log);
      });
      seen.forEach(follow);
      document.querySelectorAll("time[data-stamp-now]:empty").forEach(function (el) {
        var now = new Date();
        el.dateTime = now.toISOString();
        // 24-hour, like every time the server writes (the activity feed beside the notices)
        el.textContent = now.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit",
                                                             hour12: false });
      });
    }).observe(document.body, { childList: true, subtree: true });
  });
})();

// Small helpers for keeping the user's place: copy a code, count down to its expiry in the
// reader's own time, and a time-zone picker that can be searched and starts on the browser's zone.
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.getElementById(button.dataset.copy);
    var text = source ? source.textContent.trim() : "";
    var done = function () { button.textContent = "Copied"; window.setTimeout(function () { button.textContent = "Copy"; }, 2000); };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(done, function () { window.getSelection().selectAllChildren(source); });
    } else {
      window.getSelection().selectAllChildren(source);
    }
  });

  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function countdowns() {
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var until = Date.parse(el.dataset.countdown);
      if (isNaN(until)) return;
      var left = Math.max(0, Math.floor((until - Date.now()) / 1000));
      var at = new Date(until).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
      el.textContent = left > 0 ? "Expires in " + Math.floor(left / 60) + ":" + pad(left % 60) + " (at " + at + ", your time)."
        : "Expired at " + at + ". Ask for a new code.";
    });
  }
  window.setInterval(countdowns, 1000);

  function timeZonePickers() {
    document.querySelectorAll("select[data-tz-picker]:not([data-tz-ready])").forEach(function (select) {
      select.dataset.tzReady = "1";
      var zone = window.Intl && Intl.DateTimeFormat().resolvedOptions().timeZone;
      if ("tzBrowserDefault" in select.dataset && zone && select.value === "UTC") {
        Array.prototype.forEach.call(select.options, function (option) { if (option.value === zone) select.value = zone; });
      }
      var search = document.createElement("input");
      search.type = "search";
      search.className = "tz-search";
      search.placeholder = "Search: a city or region, e.g. London";
      search.setAttribute("aria-label", "Search time zones");
      search.setAttribute("aria-controls", select.id);
      select.parentNode.insertBefore(search, select);
      search.addEventListener("input", function () {
        var term = search.value.trim().toLowerCase().replace(/\s+/g, "_");
        var first = null;
        Array.prototype.forEach.call(select.options, function (option) {
          var hit = !term || option.value.toLowerCase().indexOf(term) !== -1;
          option.hidden = !hit;
          if (hit && first === null) first = option;
        });
        if (first && select.selectedOptions.length && select.selectedOptions[0].hidden) select.value = first.value;
      });
    });
  }
  // A row of section tabs wider than a phone scrolls sideways: bring the current one into view,
  // and fade the edge while there are more tabs past it.
  function tabStrips() {
    document.querySelectorAll("nav.tabs").forEach(function (strip) {
      var current = strip.querySelector("[aria-current]");
      if (current && current.offsetLeft + current.offsetWidth > strip.clientWidth) {
        strip.scrollLeft = current.offsetLeft + current.offsetWidth - strip.clientWidth + 16;
      }
      function edge() {
        strip.classList.toggle("tabs-more", strip.scrollLeft + strip.clientWidth < strip.scrollWidth - 1);
      }
      strip.addEventListener("scroll", edge, { passive: true });
      window.addEventListener("resize", edge);
      edge();
    });
  }
  document.addEventListener("DOMContentLoaded", function () { countdowns(); timeZonePickers(); tabStrips(); });
})();
