// Countdowns driven by server time (flash sales, auctions, holds). Each countdown carries the
// moment it ends and the server's "now" when it was rendered; the difference from this device's
// clock at the moment it appeared corrects for a phone whose clock is off.
(function () {
  "use strict";

  function format(ms, endedText) {
    if (ms <= 0) return endedText;
    var seconds = Math.ceil(ms / 1000);
    var minutes = Math.floor(seconds / 60);
    var rest = seconds % 60;
    return minutes + ":" + (rest < 10 ? "0" : "") + rest;
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-countdown-ends]").forEach(function (element) {
      if (!element.dataset.clockOffset) {
        // First sight of this element: how far the server's clock is ahead of ours.
        element.dataset.clockOffset = String(Number(element.dataset.serverNow) - now);
      }
      var serverNow = now + Number(element.dataset.clockOffset);
      var text = format(Number(element.dataset.countdownEnds) - serverNow, element.dataset.endedText || "Ended");
      if (element.textContent !== text) element.textContent = text;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    window.setInterval(tick, 250);
  });
  document.addEventListener("htmx:afterSettle", tick);
  document.addEventListener("htmx:oobAfterSwap", tick);
})();

// A bidder's status line is pushed on their own channel, which every page of theirs listens to;
// only a page showing that auction has the line to replace. The others ignore the push (htmx
// would log a missing swap target as an error).
document.addEventListener("htmx:wsBeforeMessage", function (event) {
  var message = event.detail.message;
  if (typeof message !== "string" || message.indexOf("data-push-if-present") === -1) return;
  var template = document.createElement("template");
  template.innerHTML = message;
  var pushed = template.content.firstElementChild;
  if (pushed && pushed.hasAttribute("data-push-if-present") && !document.getElementById(pushed.id)) {
    event.preventDefault();
  }
});

// The seller's Selling panel (a <details> over the console) closes like a menu: Escape closes it
// and puts the focus back on its button; a click elsewhere on the page closes it too.
document.addEventListener("keydown", function (event) {
  if (event.key !== "Escape") return;
  document.querySelectorAll("details.console-selling[open]").forEach(function (panel) {
    panel.open = false;
    panel.querySelector("summary").focus();
  });
});
document.addEventListener("click", function (event) {
  document.querySelectorAll("details.console-selling[open]").forEach(function (panel) {
    if (!panel.contains(event.target)) panel.open = false;
  });
});
