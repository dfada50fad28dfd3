// carepath patient pages: draws the progress charts from the page's own JSON (the table
// beside them holds the same numbers, so nothing depends on this script).
(function () {
  "use strict";

  function lineChart(canvasId, labels, values, max, label) {
    var canvas = document.getElementById(canvasId);
    if (!canvas || typeof Chart === "undefined") return;
    new Chart(canvas, {
      type: "line",
      data: {
        labels: labels,
        datasets: [{
          label: label, data: values, borderColor: "#1f5fa8",
          backgroundColor: "#1f5fa8", pointRadius: 5, pointHoverRadius: 7, tension: 0.2
        }]
      },
      options: {
        maintainAspectRatio: false, animation: false,
        plugins: { legend: { display: false } },
        scales: {
          y: { min: 0, max: max, title: { display: true, text: label } },
          x: { ticks: { autoSkip: true, maxRotation: 60 } }
        }
      }
    });
  }

  function draw() {
    var source = document.getElementById("progress-data");
    if (!source) return;
    var data = JSON.parse(source.textContent);
    lineChart("pain-chart", data.pain.labels, data.pain.values, 10, "Pain (0-10)");
    lineChart("function-chart", data.disability.labels, data.disability.values, 100,
              "Limitation (0-100)");
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
