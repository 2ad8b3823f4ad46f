// pnyx web UI: the byte counter of the compose boxes, the live unread count and "N new posts" bar,
// the copy buttons, and the "starting your node…" page's wait for the node (first run).
// Pages work without this script; it only adds these helpers (copy buttons stay hidden without it).
"use strict";

(function () {
  const encoder = new TextEncoder();

  function watchCounter(form) {
    const box = form.querySelector("textarea[data-max-bytes]");
    const counter = form.querySelector(".counter");
    const button = form.querySelector("button[type=submit]");
    if (!box || !counter || !button) return;
    const max = Number(box.dataset.maxBytes);
    const update = function () {
      const used = encoder.encode(box.value).length;
      counter.textContent = used + " / " + max + " bytes";
      const over = used > max;
      counter.classList.toggle("over", over);
      button.disabled = over || box.value.trim() === "";
    };
    box.addEventListener("input", update);
    update();
  }

  // One live channel per page: the header's nav names it (data-events) on every page with a
  // session. Each "arrived" (new posts) or "notify" (a new follower) recounts the unread badge;
  // on the timeline, "arrived" also shows the "N new posts" bar.
  function openLive() {
    const nav = document.querySelector("nav[data-events]");
    if (!nav || !window.EventSource) return null;
    const source = new EventSource(nav.dataset.events);
    source.addEventListener("arrived", refreshUnread);
    source.addEventListener("notify", refreshUnread);
    return source;
  }

  function watchArrivals(source) {
    const bar = document.getElementById("new-posts");
    if (!bar) return;
    const link = bar.querySelector("a");
    let waiting = 0;
    source.addEventListener("arrived", function (event) {
      waiting += Number(event.data) || 0;
      if (waiting > 0) {
        link.textContent = waiting + (waiting === 1 ? " new post" : " new posts");
        bar.hidden = false; // the bar shows; the list does not move until the user asks
      }
    });
  }

  // At most one count request per UNREAD_GAP_MS: a burst of arrivals asks once, after it.
  const UNREAD_GAP_MS = 1000;
  let unreadPending = false;

  function refreshUnread() {
    const badge = document.getElementById("unread");
    if (!badge || !window.fetch || unreadPending) return;
    unreadPending = true;
    setTimeout(function () {
      unreadPending = false;
      fetch("/notifications/unread", { credentials: "same-origin" })
        .then(function (answer) { return answer.ok ? answer.json() : null; })
        .then(function (found) {
          if (!found) return;
          badge.querySelector(".unread-n").textContent = String(found.unread);
          badge.hidden = found.unread === 0;
        }, function () {});
    }, UNREAD_GAP_MS);
  }

  function watchCopy(button) {
    const source = document.getElementById(button.dataset.copy);
    if (!source) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      const text = source.textContent;
      const done = function () { button.textContent = "Copied"; };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(done, function () { selectText(source); });
      } else {
        selectText(source);
      }
    });
  }

  function selectText(element) {
    const range = document.createRange();
    range.selectNodeContents(element);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  // The first run's "starting your node…" page (data-wait-for): ask for the page every
  // WAIT_RETRY_MS until something other than the first-run server's 503 answers (the node's
  // app, on the same port), then go there. A refused connection (the port between the two
  // servers) is retried too, and so is an answer that takes over WAIT_ANSWER_MS (a kept-alive
  // connection to the stopping first-run server may never be answered).
  const WAIT_RETRY_MS = 500;
  const WAIT_ANSWER_MS = 2000;

  function waitFor(element) {
    const target = element.dataset.waitFor;
    if (!window.fetch || !window.AbortController || !target.startsWith("/")) return;
    const again = function () { setTimeout(ask, WAIT_RETRY_MS); };
    const ask = function () {
      const abort = new AbortController();
      const timer = setTimeout(function () { abort.abort(); }, WAIT_ANSWER_MS);
      fetch(target, {
        credentials: "same-origin", cache: "no-store", method: "HEAD", signal: abort.signal,
      }).then(function (answer) {
        clearTimeout(timer);
        if (answer.status === 503) again();
        else window.location.assign(target);
      }, function () { clearTimeout(timer); again(); });
    };
    again();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-wait-for]").forEach(waitFor);
    document.querySelectorAll("button[data-copy]").forEach(watchCopy);
    document.querySelectorAll("form.compose").forEach(watchCounter);
    const source = openLive();
    if (source && document.querySelector("[data-live]")) watchArrivals(source);
  });
})();
