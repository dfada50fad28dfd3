// The auditors' pages: the indicator page's chart of each indicator's monthly rate (Chart.js,
// from the JSON block the page carries; the same numbers are in the table beside the chart),
// and the log page's export form.
(function () {
  'use strict';
  function draw() {
    var canvas = document.getElementById('trend-chart');
    var data = document.getElementById('trend-data');
    if (!canvas || !data || !window.Chart) { return; }
    var trend = JSON.parse(data.textContent);
    var dashes = [[], [6, 3], [2, 2], [8, 3, 2, 3]];
    new window.Chart(canvas, {
      type: 'line',
      data: {
        labels: trend.months,
        datasets: trend.series.map(function (entry, index) {
          return { label: entry[0] + '. ' + entry[1], data: entry[2], spanGaps: true,
                   borderDash: dashes[index % dashes.length], pointStyle: ['circle', 'rect', 'triangle', 'star'][index % 4] };
        })
      },
      options: {
        responsive: true, maintainAspectRatio: false,
        scales: { y: { min: 0, max: 100, title: { display: true, text: 'rate (%)' } } },
        plugins: { legend: { position: 'bottom', labels: { boxWidth: 12 } } }
      }
    });
  }
  // The export form sends only what was filled in (no empty dates), and asks for an
  // identifiable export only when a reason is given.
  function exportForm() {
    var form = document.getElementById('export-form');
    if (!form) { return; }
    form.addEventListener('submit', function () {
      var reason = document.getElementById('export-reason');
      var identifiable = document.getElementById('export-identifiable');
      identifiable.disabled = !reason.value.trim();
      var fields = form.querySelectorAll('input[type=date], #export-reason');
      Array.prototype.forEach.call(fields, function (field) { field.disabled = !field.value.trim(); });
      setTimeout(function () {
        Array.prototype.forEach.call(fields, function (field) { field.disabled = false; });
      }, 0);
    });
  }
  function start() { draw(); exportForm(); }
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
