// carepath clinician pages: error messages for htmx actions on the worklist, and the patient
// page's pathway diagram (window.carepathDiagram: our bpmn-js bundle) and charts (Chart.js).
// Everything shown here is also on the page as text, so the page works without this script.
(function () {
  'use strict';

  // An action refused by the server (someone claimed the task first, ...): say why.
  document.addEventListener('htmx:responseError', function (event) {
    var flash = document.getElementById('flash');
    if (!flash) { return; }
    var page = new DOMParser().parseFromString(event.detail.xhr.responseText, 'text/html');
    var message = page.querySelector('.error-page .message');
    flash.textContent = (message ? message.textContent : 'That did not work.') +
      ' The list has been reloaded.';
    flash.hidden = false;
    if (window.htmx) { window.htmx.trigger('#filters', 'change'); }
  });

  // A refresh after the session ended comes back as the login page: go there, do not
  // draw it inside the list.
  document.addEventListener('htmx:beforeSwap', function (event) {
    var url = event.detail.xhr.responseURL;
    if (url && new URL(url).pathname === '/login') {
      event.detail.shouldSwap = false;
      window.location.href = '/login?next=' + encodeURIComponent(window.location.pathname);
    }
  });

  function pageData() {
    var element = document.getElementById('page-data');
    return element ? JSON.parse(element.textContent) : null;
  }

  function drawDiagram(data) {
    var container = document.getElementById('diagram');
    if (!container || typeof window.carepathDiagram === 'undefined') { return; }
    var markers = {};
    data.done.forEach(function (id) { markers[id] = 'done'; });
    data.current.forEach(function (id) { markers[id] = 'current'; });
    fetch(container.dataset.src, { credentials: 'same-origin' })
      .then(function (response) {
        if (!response.ok) { throw new Error('diagram ' + response.status); }
        return response.text();
      })
      .then(function (xml) { return window.carepathDiagram.show(container, xml, { markers: markers }); })
      .then(function (viewer) {
        fullScreenButtons(viewer);
        var canvas = viewer.get('canvas');
        var registry = viewer.get('elementRegistry');
        var current = data.current.filter(function (id) { return registry.get(id); });
        if (current.length) {
          canvas.zoom(0.7);
          canvas.scrollToElement(registry.get(current[0]));
        }
      })
      .catch(function () {
        container.textContent = 'The diagram could not be drawn; the current steps are listed above.';
      });
  }

  // The diagram, full screen: the box covers the window (and asks for the Fullscreen API
  // where there is one, to hide the browser's own bars); Escape or the close button end it.
  function fullScreenButtons(viewer) {
    var box = document.getElementById('diagram-box');
    var open = document.getElementById('diagram-open');
    var close = document.getElementById('diagram-close');
    if (!box || !open || !close) { return; }

    function show(on) {
      if (on === box.classList.contains('full-screen')) { return; }
      box.classList.toggle('full-screen', on);
      open.hidden = on;
      close.hidden = !on;
      viewer.get('canvas').resized();
      (on ? close : open).focus();
    }

    open.hidden = false;
    open.addEventListener('click', function () {
      show(true);
      if (box.requestFullscreen) { box.requestFullscreen().catch(function () {}); }
    });
    close.addEventListener('click', function () {
      if (document.fullscreenElement) { document.exitFullscreen().catch(function () {}); }
      show(false);
    });
    document.addEventListener('fullscreenchange', function () {
      if (!document.fullscreenElement) { show(false); }
    });
    document.addEventListener('keydown', function (event) {
      if (event.key === 'Escape' && box.classList.contains('full-screen')) { close.click(); }
    });
  }

  function flat(values, level) {
    return values.map(function () { return level; });
  }

  function drawScoreChart(chart) {
    var canvas = document.getElementById('chart-' + chart.key);
    if (!canvas || !chart.values.length) { return; }
    var datasets = [];
    if (chart.baseline !== null) {
      var upper = Math.min(chart.max, chart.baseline + chart.mcid);
      var lower = Math.max(chart.min, chart.baseline - chart.mcid);
      datasets.push({ label: 'band top', data: flat(chart.values, upper),
                      borderWidth: 0, pointRadius: 0, fill: false });
      datasets.push({ label: 'No meaningful change (baseline \u00b1 ' + chart.mcid + ')',
                      data: flat(chart.values, lower), borderWidth: 0, pointRadius: 0,
                      fill: '-1', backgroundColor: 'rgba(31, 95, 168, 0.12)' });
    }
    datasets.push({ label: chart.title, data: chart.values, borderColor: '#1f5fa8',
                    backgroundColor: '#1f5fa8', pointRadius: 4, pointStyle: 'rectRot',
                    fill: false, tension: 0 });
    new window.Chart(canvas, {
      type: 'line',
      data: { labels: chart.labels, datasets: datasets },
      options: {
        animation: false,
        scales: { y: { min: chart.min, max: chart.max } },
        plugins: { legend: { labels: { filter: function (item) {
          return item.text !== 'band top';
        } } } }
      }
    });
  }

  function drawAdherence(adherence) {
    var canvas = document.getElementById('chart-adherence');
    if (!canvas || !adherence.labels.length) { return; }
    new window.Chart(canvas, {
      type: 'bar',
      data: {
        labels: adherence.labels,
        datasets: [
          { label: 'Sessions done', data: adherence.done, backgroundColor: '#1f5fa8' },
          { label: 'Sessions planned', data: adherence.planned, backgroundColor: '#c9d3e0' }
        ]
      },
      options: { animation: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    var data = pageData();
    if (!data) { return; }
    drawDiagram(data);
    if (typeof window.Chart !== 'undefined') {
      data.charts.forEach(drawScoreChart);
      drawAdherence(data.adherence);
    }
  });
}());
