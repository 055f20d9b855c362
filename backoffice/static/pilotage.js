/* Issue 16 §5: the Pilotage chart, drawn by Chart.js (static/vendor/chartjs) from the figures the page also shows
   in its tables (#donnees-pilotage). Amounts arrive as strings of euros. */
(function () {
  "use strict";
  var holder = document.getElementById("donnees-pilotage");
  var canvas = document.getElementById("graphique-pilotage");
  if (!holder || !canvas || !window.Chart) { return; }
  var data = JSON.parse(holder.getAttribute("data-json"));
  var euros = new Intl.NumberFormat("fr-FR", { style: "currency", currency: "EUR", maximumFractionDigits: 0 });
  // colour-blind safe (Okabe-Ito), the same as the home page's
  var COLOURS = { verse: "#0072B2", recouvre: "#009E73", reste_du: "#E69F00" };
  var LABELS = { verse: "Versé", recouvre: "Recouvré", reste_du: "Reste dû" };
  new window.Chart(canvas, {
    type: "bar",
    data: { labels: data.labels, datasets: data.series.map(function (s) {
      return { label: LABELS[s[0]], data: s[1].map(Number), backgroundColor: COLOURS[s[0]] };
    }) },
    options: {
      animation: false, responsive: true,
      plugins: { tooltip: { callbacks: { label: function (c) { return c.dataset.label + " : " + euros.format(c.parsed.y); } } } },
      scales: { y: { beginAtZero: true, ticks: { callback: function (v) { return euros.format(v); } } } }
    }
  });
})();
