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

// Some pushes update a part only some pages have: a bidder's status line (pushed on their own
// channel, which every page of theirs listens to, and only a page showing that auction has it) or
// a product picker of the seller's console (absent while that control shows a running sale). Such
// a part is marked data-push-if-present, and a page that will not have it when its turn comes is
// spared it (htmx would log a missing swap target as an error). The hub sends messages queued
// together as one, and their parts are swapped in order: a part earlier in the message may remove
// the element (a control replaced by one without a picker) or bring it. This is an htmx extension
// on the socket's element beside "ws": the ws extension passes each message through it, with no
// request, before swapping it.
htmx.defineExtension("push-if-present", {
  transformResponse: function (text, xhr) {
    if (xhr || typeof text !== "string" || text.indexOf("data-push-if-present") === -1) return text;
    var template = document.createElement("template");
    template.innerHTML = text;
    var replaced = [];  // elements of the page that earlier parts replace
    var brought = {};  // ids that earlier parts bring
    var dropped = false;
    Array.prototype.slice.call(template.content.children).forEach(function (part) {
      var existing = part.id ? document.getElementById(part.id) : null;
      if (part.hasAttribute("data-push-if-present")) {
        var gone = !existing || replaced.some(function (old) { return old.contains(existing); });
        if (!brought[part.id] && gone) {
          part.remove();
          dropped = true;
          return;
        }
      }
      if (existing) replaced.push(existing);
      brought[part.id] = true;
      part.querySelectorAll("[id]").forEach(function (inner) { brought[inner.id] = true; });
    });
    return dropped ? template.innerHTML : text;
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

// A product picker in the seller's console is pushed again whenever the show's stock changes (so
// it never offers units that have gone); the push keeps the product the seller had chosen, and
// the focus when the picker had it.
document.addEventListener("htmx:oobBeforeSwap", function (event) {
  var current = event.detail.target;
  var fragment = event.detail.fragment;
  if (!current || current.tagName !== "SELECT" || !fragment || !fragment.querySelector) return;
  var pushed = fragment.querySelector("select#" + current.id);
  if (!pushed) return;
  var chosen = current.value;
  var options = Array.prototype.slice.call(pushed.options);
  if (options.some(function (option) { return option.value === chosen; })) {
    options.forEach(function (option) { option.toggleAttribute("selected", option.value === chosen); });
  }
  if (document.activeElement === current) pushed.setAttribute("data-refocus", "");
});
document.addEventListener("htmx:oobAfterSwap", function () {
  document.querySelectorAll("select[data-refocus]").forEach(function (select) {
    select.removeAttribute("data-refocus");
    select.focus();
  });
});
