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

  function enhance(root) { localTimes(root); editors(root); }
  document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  document.addEventListener("htmx:afterSwap", function (ev) { localTimes(ev.detail.target || document); });
})();
