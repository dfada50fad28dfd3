// The what-if run's page: while the run goes on, its progress from the JSON status route
// (the page reloads once the run stops); once done, the chart of tasks per week by role
// (Chart.js, from the page's JSON block; the table beside it has the same numbers).
(function () {
  'use strict';
  function follow() {
    var status = document.getElementById('whatif-status');
    if (!status || status.getAttribute('data-state') !== 'running') { return; }
    var job = status.getAttribute('data-job');
    var bar = document.getElementById('whatif-progress');
    var count = document.getElementById('whatif-count');
    function poll() {
      fetch('/api/models/whatif/' + job, { credentials: 'same-origin' })
        .then(function (answer) { return answer.ok ? answer.json() : null; })
        .then(function (found) {
          if (!found) { return; }
          if (found.state !== 'running') { window.location.reload(); return; }
          if (found.total) { bar.value = Math.floor(100 * found.done / found.total); }
          count.textContent = found.done + ' of ' + found.total;
          setTimeout(poll, 1000);
        })
        .catch(function () { setTimeout(poll, 3000); });
    }
    setTimeout(poll, 500);
  }
  function draw() {
    var canvas = document.getElementById('whatif-chart');
    var data = document.getElementById('whatif-data');
    if (!canvas || !data || !window.Chart) { return; }
    var found = JSON.parse(data.textContent);
    var labels = [];
    for (var week = 1; week <= found.weeks; week += 1) { labels.push('week ' + week); }
    var datasets = [];
    Object.keys(found.weekly).forEach(function (role, index) {
      var pair = found.weekly[role];
      var name = role.replace(/_/g, ' ');
      var style = ['circle', 'rect', 'triangle', 'star'][index % 4];
      datasets.push({ label: name + ', deployed', data: pair.deployed, pointStyle: style });
      datasets.push({ label: name + ', ' + found.candidate, data: pair.candidate,
                      borderDash: [6, 3], pointStyle: style });
    });
    new window.Chart(canvas, {
      type: 'line',
      data: { labels: labels, datasets: datasets },
      options: {
        responsive: true, maintainAspectRatio: false,
        scales: { y: { min: 0, title: { display: true, text: 'tasks' } } },
        plugins: { legend: { position: 'bottom', labels: { boxWidth: 12 } } }
      }
    });
  }
  function start() { follow(); draw(); }
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
