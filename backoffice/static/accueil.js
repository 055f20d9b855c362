/* Issue 18 §2: the home page's charts, drawn by Chart.js (static/vendor/chartjs, loaded by this page only) from
   the figures the page also shows in its tables (#donnees-graphiques). Amounts arrive as strings of euros. */
(function () {
  "use strict";
  var holder = document.getElementById("donnees-graphiques");
  if (!holder || !window.Chart) { return; }
  var data = JSON.parse(holder.getAttribute("data-json"));
  var euros = new Intl.NumberFormat("fr-FR", { style: "currency", currency: "EUR", maximumFractionDigits: 0 });
  // colour-blind safe (Okabe-Ito), and each series also has its own pattern of position in the legend
  var COLOURS = { paye: "#0072B2", du: "#E69F00", recouvre: "#009E73",
                  attente: "#56B4E9", en_cours: "#0072B2", echec: "#D55E00" };
  var LABELS = { paye: "Payé", du: "Dû", recouvre: "Recouvré",
                 attente: "En attente", en_cours: "En cours", echec: "En échec" };
  function datasets(series) {
    return Object.keys(series).map(function (k) {
      return { label: LABELS[k], data: series[k].map(Number), backgroundColor: COLOURS[k] };
    });
  }
  function bars(id, block, money, horizontal) {
    var canvas = document.getElementById(id);
    if (!canvas || !block) { return; }
    new window.Chart(canvas, {
      type: "bar",
      data: { labels: block.labels, datasets: datasets(block.series) },
      options: {
        indexAxis: horizontal ? "y" : "x", animation: false, responsive: true,
        plugins: { tooltip: { callbacks: { label: function (c) {
          var v = horizontal ? c.parsed.x : c.parsed.y;
          return c.dataset.label + " : " + (money ? euros.format(v) : v);
        } } } },
        scales: money ? (horizontal ? { x: { ticks: { callback: function (v) { return euros.format(v); } } } }
                                    : { y: { ticks: { callback: function (v) { return euros.format(v); } } } })
                      : { y: { beginAtZero: true, ticks: { precision: 0 } } }
      }
    });
  }
  bars("graphique-mois", data.mois, true, false);
  bars("graphique-programmes", data.programmes, true, true);
  bars("graphique-files", data.files, false, false);
})();
