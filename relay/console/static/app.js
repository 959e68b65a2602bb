// relayfn console: small enhancements; every page reads without them.
(function () {
  "use strict";

  // Times: <time datetime> elements are rendered in UTC on the server;
  // show them in the browser's zone.
  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (!isNaN(d)) {
        el.title = el.textContent;
        el.textContent = d.toLocaleString();
      }
    });
  }

  // The Lua editor: CodeMirror over the textarea, kept in sync with it so
  // that forms (and htmx) send what is shown.
  function editors(root) {
    if (typeof CodeMirror === "undefined") return;
    root.querySelectorAll("textarea[data-editor=lua]").forEach(function (ta) {
      if (ta.dataset.enhanced) return;
      ta.dataset.enhanced = "1";
      var cm = CodeMirror.fromTextArea(ta, { mode: "lua", lineNumbers: true, indentUnit: 2, viewportMargin: Infinity });
      cm.on("change", function () { cm.save(); });
    });
  }

  // Copy buttons copy the value of the input they name.
  document.addEventListener("click", function (ev) {
    var b = ev.target.closest("button[data-copy]");
    if (!b) return;
    var input = document.getElementById(b.dataset.copy);
    if (!input) return;
    input.select();
    if (navigator.clipboard) {
      navigator.clipboard.writeText(input.value).then(function () { b.textContent = "Copied"; });
    }
  });

  // The request log's live updates: webhook events from /ui/events (the
  // relay's event stream, behind the session) refresh the table's rows
  // from the server (same filters). When the reader has scrolled down,
  // nothing moves: "Paused · N new" shows instead, until they click it or
  // scroll back to the top.
  function liveLog() {
    var box = document.getElementById("live");
    var rows = document.getElementById("webhook-rows");
    if (!box || !rows || typeof EventSource === "undefined") return;
    var label = document.getElementById("live-state");
    var show = document.getElementById("live-show");
    var pending = 0, busy = false, again = false, connected = false;
    var f = box.dataset;
    function paused() { return window.scrollY > 40; }
    function say() {
      if (pending > 0 && paused()) {
        box.classList.add("paused");
        label.textContent = "Paused · " + pending + " new";
        show.hidden = false;
      } else {
        box.classList.remove("paused");
        label.textContent = connected ? "Live: new webhooks appear here" : "Connecting to the event stream…";
        show.hidden = true;
      }
    }
    function refresh() {
      if (busy) { again = true; return; }
      busy = true;
      var seen = {};
      rows.querySelectorAll("tr[id]").forEach(function (tr) { seen[tr.id] = true; });
      fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.getElementById("webhook-rows");
          if (!fresh) return;
          rows.replaceWith(fresh);
          rows = fresh;
          rows.querySelectorAll("tr[id]").forEach(function (tr) { if (!seen[tr.id]) tr.classList.add("fresh"); });
          localTimes(rows);
          pending = 0;
        })
        .catch(function () {})
        .then(function () {
          say();
          // At most two refreshes a second, however busy the relay is.
          setTimeout(function () {
            busy = false;
            if (again) { again = false; if (!paused()) refresh(); }
          }, 500);
        });
    }
    function matches(e) {
      if (f.bucket && e.bucket_id !== f.bucket) return false;
      if (f.input && e.input_id !== f.input) return false;
      if (f.status && String(e.status) !== f.status) return false;
      if (f.fnerr === "true" && !e.function_error) return false;
      return true;
    }
    var es = new EventSource("/ui/events");
    es.addEventListener("open", function () { connected = true; say(); });
    es.addEventListener("error", function () { connected = false; label.textContent = "Live updates interrupted: retrying…"; });
    es.addEventListener("webhook", function (ev) {
      var e = JSON.parse(ev.data);
      if (!e.webhook_id || !matches(e)) return;
      pending++;
      if (paused()) say(); else refresh();
    });
    es.addEventListener("attempt", function () { if (!paused()) refresh(); });
    es.addEventListener("dropped", function () { if (!paused()) refresh(); });
    show.addEventListener("click", function () { window.scrollTo(0, 0); refresh(); });
    window.addEventListener("scroll", function () { if (!paused() && pending > 0) refresh(); else say(); }, { passive: true });
    say();
  }

  function enhance(root) { localTimes(root); editors(root); }
  document.addEventListener("DOMContentLoaded", function () { enhance(document); liveLog(); });
  document.addEventListener("htmx:afterSwap", function (ev) { localTimes(ev.detail.target || document); });
})();
