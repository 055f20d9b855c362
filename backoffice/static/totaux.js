/* Issue 18: the total of the ticked rows of a grid, summed in the browser from each amount cell's exact value
   (data-valeur, in cents so no float error), for every money column of the totals bar (#totaux-grille). */
(function () {
  "use strict";
  var bar = document.getElementById("totaux-grille");
  if (!bar) { return; }
  var nf = new Intl.NumberFormat("fr-FR", { style: "currency", currency: "EUR" });
  function cents(text) {
    var m = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(text || "");
    if (!m) { return 0; }
    var c = parseInt(m[2], 10) * 100 + parseInt(((m[3] || "") + "00").slice(0, 2), 10);
    return m[1] ? -c : c;
  }
  function euros(c) {
    // Babel's French: narrow no-break space between thousands, no-break space before « € »
    return nf.format(c / 100).replace(/[\u00a0\u202f ](?=\d)/g, "\u202f").replace(/\s€$/, "\u00a0€");
  }
  function refresh() {
    var ticked = document.querySelectorAll("input.action-checkbox:checked");
    var n = bar.querySelector(".bo-coches-nb");
    if (n) { n.textContent = String(ticked.length); }
    bar.querySelectorAll("tr[data-total]").forEach(function (tr) {
      var key = tr.getAttribute("data-total"), sum = 0;
      ticked.forEach(function (box) {
        var row = box.closest("tr");
        var cell = row && row.querySelector("td.col-" + key + " [data-valeur]");
        if (cell) { sum += cents(cell.getAttribute("data-valeur")); }
      });
      tr.querySelector("[data-total-coches]").textContent = euros(sum);
    });
  }
  document.addEventListener("change", function (e) {
    var t = e.target;
    if (t && t.classList && (t.classList.contains("action-checkbox") || t.classList.contains("action-rowtoggle"))) {
      // the « all rows » box ticks the others in its own handler: read them once it is done
      window.setTimeout(refresh, 0);
    }
  });
  refresh();
})();
