// The request list: a clean filter URL (empty fields dropped), custom time fields shown only when
// picked, and live mode (polls for rows newer than the top one and puts them on top).
"use strict";
(function () {
  var form = document.getElementById("filters");
  var range = document.getElementById("f-range");
  function showCustom() {
    var custom = range.value === "custom";
    document.querySelectorAll(".custom-time").forEach(function (el) { el.hidden = !custom; });
  }
  range.addEventListener("change", showCustom);
  showCustom();
  // On a phone the filters would fill the first screen: folded there unless some filter is set.
  if (window.matchMedia("(max-width: 640px)").matches && !/[?&](?!cursor=)[^=&]+=[^&]/.test(window.location.search)) {
    document.getElementById("filter-box").open = false;
  }
  form.addEventListener("submit", function () {
    form.querySelectorAll("input, select").forEach(function (el) {
      var customOff = range.value !== "custom" && el.closest(".custom-time");
      if (el.name && (el.value === "" || customOff)) { el.disabled = true; }
    });
    // Re-enable after the navigation starts, so the back button finds the fields usable.
    setTimeout(function () { form.querySelectorAll("[disabled]").forEach(function (el) { el.disabled = false; }); }, 0);
  });

  var live = document.getElementById("live");
  if (!live) { return; }
  var status = document.getElementById("live-status");
  var body = document.querySelector("#logs tbody");
  var timer = null;
  var MAX_ROWS = 500;
  function topId() {
    var first = body.querySelector("tr[data-id]");
    return first ? first.getAttribute("data-id") : "0";
  }
  function poll() {
    var params = new URLSearchParams(window.location.search);
    params.delete("cursor");
    params.set("after_id", topId());
    fetch("/ui/rows?" + params.toString(), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (html) {
        // Rows rendered by the server's own (autoescaped) template, parsed inertly, then moved in.
        var template = document.createElement("template");
        template.innerHTML = html;
        var rows = template.content.querySelectorAll("tr");
        for (var i = rows.length - 1; i >= 0; i--) {
          rows[i].classList.add("new");
          body.insertBefore(rows[i], body.firstChild);
        }
        while (body.rows.length > MAX_ROWS) { body.deleteRow(-1); }
        status.textContent = rows.length ? rows.length + " new" : "live";
      })
      .catch(function (error) { status.textContent = "live mode paused: " + error.message; });
  }
  live.addEventListener("change", function () {
    if (live.checked) { poll(); timer = setInterval(poll, 2000); status.textContent = "live"; }
    else { clearInterval(timer); timer = null; status.textContent = ""; }
  });
})();
