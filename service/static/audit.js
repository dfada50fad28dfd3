// The auditors' indicator page: draws each indicator's monthly rate (Chart.js) from the JSON
// block the page carries; the same numbers are in the table beside the chart.
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
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', draw);
  } else {
    draw();
  }
})();
