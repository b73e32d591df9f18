// The detail page: "Copy as curl" puts the command (as stored: secrets stay redacted) on the clipboard.
"use strict";
(function () {
  var button = document.getElementById("copy-curl");
  var pre = document.getElementById("curl");
  var status = document.getElementById("copy-status");
  button.addEventListener("click", function () {
    var text = pre.textContent;
    function selectIt() {
      var range = document.createRange();
      range.selectNodeContents(pre);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      status.textContent = "Selected: press Ctrl+C to copy";
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { status.textContent = "Copied"; }, selectIt);
    } else {
      selectIt();
    }
  });
})();
