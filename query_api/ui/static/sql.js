// The SQL page: Ctrl+Enter (or Cmd+Enter) in the editor runs the statement.
"use strict";
(function () {
  var editor = document.getElementById("sql");
  var form = document.getElementById("sql-form");
  editor.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
})();
