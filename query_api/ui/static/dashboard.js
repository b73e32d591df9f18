// The dashboard's charts: fetch the series (same query string as the page) and draw them with uPlot.
"use strict";
(function () {
  var box = document.getElementById("charts");
  var summary = document.getElementById("summary");
  var charts = [];

  function width(el) { return Math.max(280, el.clientWidth); }

  function draw(el, title, data, series, yFormat) {
    var options = {
      width: width(el),
      height: 200,
      series: [{}].concat(series),
      axes: [{}, { values: function (u, ticks) { return ticks.map(yFormat); }, size: 60 }],
      legend: { show: true },
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); },  // the page is in UTC
      cursor: { drag: { x: false, y: false } }
    };
    var chart = new uPlot(options, data, el);
    el.setAttribute("data-drawn", "true");
    charts.push({ chart: chart, el: el });
  }

  function percent(value) { return value == null ? "" : (value * 100).toFixed(value < 0.1 ? 1 : 0) + "%"; }
  function number(value) { return value == null ? "" : String(+value.toFixed(2)); }

  fetch(box.getAttribute("data-series"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
    .then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    })
    .then(function (s) {
      var bots = s.requests ? s.bots / s.requests : 0;
      var errors = s.requests ? s.errors / s.requests : 0;
      summary.textContent = s.requests + " requests · " + s.errors + " errors (" + percent(errors) + ") · bots " +
        percent(bots) + " of traffic · one point per " + (s.bucket_seconds / 60) + " min";
      draw(document.getElementById("chart-rpm"), "Requests per minute", [s.t, s.rpm],
        [{ label: "req/min", stroke: "#2563eb", fill: "rgba(37,99,235,0.12)", width: 2 }], number);
      draw(document.getElementById("chart-errors"), "Error rate", [s.t, s.error_rate],
        [{ label: "error rate", stroke: "#dc2626", fill: "rgba(220,38,38,0.10)", width: 2, value: function (u, v) { return percent(v); } }],
        percent);
      draw(document.getElementById("chart-latency"), "Latency", [s.t, s.p50, s.p95, s.p99], [
        { label: "p50 ms", stroke: "#16a34a", width: 2 },
        { label: "p95 ms", stroke: "#d97706", width: 2 },
        { label: "p99 ms", stroke: "#9333ea", width: 2 }
      ], number);
    })
    .catch(function (error) { summary.textContent = "Could not load the charts: " + error.message; });

  var pending = null;
  window.addEventListener("resize", function () {
    clearTimeout(pending);
    pending = setTimeout(function () {
      charts.forEach(function (c) { c.chart.setSize({ width: width(c.el), height: 200 }); });
    }, 100);
  });

  var range = document.getElementById("d-range");
  function showCustom() {
    document.querySelectorAll(".custom-time").forEach(function (el) { el.hidden = range.value !== "custom"; });
  }
  range.addEventListener("change", showCustom);
  showCustom();
})();
