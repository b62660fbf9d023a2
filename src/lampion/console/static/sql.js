// Lampion console, SQL editor: Ctrl/Cmd+Enter runs, a per-browser history of what ran
// (localStorage, per project), and paging through large results. Wired by data attributes.
(function () {
  "use strict";

  var HISTORY_SIZE = 50;

  function historyKey(editor) {
    return "lampion.sql.history." + editor.getAttribute("data-project");
  }

  function readHistory(editor) {
    try {
      var stored = JSON.parse(window.localStorage.getItem(historyKey(editor)) || "[]");
      return Array.isArray(stored) ? stored : [];
    } catch (e) {
      return [];
    }
  }

  function writeHistory(editor, entries) {
    try {
      window.localStorage.setItem(historyKey(editor), JSON.stringify(entries));
    } catch (e) { /* storage full or refused: history is a convenience */ }
  }

  function remember(editor, query, database) {
    var entries = readHistory(editor).filter(function (entry) { return entry.query !== query; });
    entries.unshift({ query: query, database: database, at: new Date().toISOString() });
    writeHistory(editor, entries.slice(0, HISTORY_SIZE));
    showHistory(editor);
  }

  function showHistory(editor) {
    var list = editor.querySelector("#sql-history");
    if (!list) return;
    list.textContent = "";
    var entries = readHistory(editor);
    if (!entries.length) {
      var empty = document.createElement("li");
      empty.className = "empty";
      empty.textContent = "Nothing run yet.";
      list.appendChild(empty);
      return;
    }
    entries.forEach(function (entry) {
      var item = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sql-history-entry";
      button.title = "Put back into the editor";
      var text = document.createElement("code");
      text.textContent = entry.query;
      var when = document.createElement("span");
      when.className = "meta";
      when.textContent = (entry.database || "") + " · " + new Date(entry.at).toLocaleString();
      button.appendChild(text);
      button.appendChild(when);
      button.addEventListener("click", function () {
        var area = editor.querySelector("[data-sql-query]");
        if (!area) return;
        var database = editor.querySelector("select[name=database]");
        if (database && entry.database && database.querySelector('option[value="' + CSS.escape(entry.database) + '"]')) {
          database.value = entry.database;
        }
        area.value = entry.query;
        area.focus();
      });
      item.appendChild(button);
      list.appendChild(item);
    });
  }

  function wireEditor(editor) {
    if (editor.hasAttribute("data-wired")) return;
    editor.setAttribute("data-wired", "");
    var form = editor.querySelector("form");
    var area = editor.querySelector("[data-sql-query]");
    if (form && area) {
      area.addEventListener("keydown", function (event) {
        if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
          event.preventDefault();
          if (form.querySelector("button[type=submit]:not([disabled])")) form.requestSubmit();
        }
      });
      form.addEventListener("htmx:beforeRequest", function (event) {
        if (event.detail.elt !== form) return;
        var database = form.querySelector("[name=database]");
        remember(editor, area.value, database ? database.value : "");
      });
    }
    var clear = editor.querySelector("[data-sql-history-clear]");
    if (clear) {
      clear.addEventListener("click", function () {
        writeHistory(editor, []);
        showHistory(editor);
      });
    }
    showHistory(editor);
  }

  // Rows past the first page are sent hidden; the pager shows one page of them at a time.
  function wirePagers(root) {
    root.querySelectorAll("[data-sql-pager]:not([data-wired])").forEach(function (pager) {
      pager.setAttribute("data-wired", "");
      var size = parseInt(pager.getAttribute("data-page-size"), 10);
      var total = parseInt(pager.getAttribute("data-rows"), 10);
      var section = pager.closest(".sql-statement");
      var rows = section ? section.querySelectorAll("tbody tr") : [];
      var previous = pager.querySelector("[data-sql-page=prev]");
      var next = pager.querySelector("[data-sql-page=next]");
      var status = pager.querySelector("[data-sql-page-status]");
      var current = 0;
      function show(pageIndex) {
        current = pageIndex;
        var first = pageIndex * size;
        var last = Math.min(first + size, total);
        for (var i = 0; i < rows.length; i++) rows[i].hidden = i < first || i >= last;
        previous.disabled = pageIndex === 0;
        next.disabled = last >= total;
        status.textContent = "Rows " + (first + 1) + "–" + last + " of " + total;
      }
      previous.addEventListener("click", function () { show(current - 1); });
      next.addEventListener("click", function () { show(current + 1); });
    });
  }

  function wire(root) {
    var editors = root.matches && root.matches("[data-sql-editor]") ? [root] : [];
    root.querySelectorAll("[data-sql-editor]").forEach(function (e) { editors.push(e); });
    editors.forEach(wireEditor);
    wirePagers(root);
  }

  document.addEventListener("DOMContentLoaded", function () { wire(document); });
  document.addEventListener("htmx:afterSettle", function (event) { wire(event.target); });
})();
