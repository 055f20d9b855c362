/* Issue 18 §6: the progress page of a bulk run updates itself, without reloading the page. Every 2 s it reads
   the run's small JSON (rows done / total, rate, estimated end, refusals so far) and updates the figures; the
   polite live region (#progression-annonce) tells screen readers; once the run is over, the page's result card
   is fetched once and swapped in (the outcome: lots created with their links, amounts per programme).
   Without JavaScript the page refreshes itself every 5 s (<noscript>) and offers a link. */
(function () {
  "use strict";
  var box = document.getElementById("progression");
  if (!box || box.getAttribute("data-termine") === "1" || !window.fetch) { return; }
  var url = box.getAttribute("data-url");
  var failures = 0;
  function set(id, text) {
    var el = document.getElementById(id);
    if (el && el.textContent !== text) { el.textContent = text; }
  }
  function announce(text) { set("progression-annonce", text); }
  function update(d) {
    var bar = document.getElementById("progression-barre");
    if (bar) {
      bar.style.width = d.pourcentage + "%";
      bar.setAttribute("aria-valuenow", String(d.pourcentage));
      bar.textContent = d.traites + " / " + d.total;
    }
    set("progression-libelle", d.libelle);
    set("progression-traites", d.traites_texte);
    set("progression-debit", d.debit_texte || "—");
    set("progression-fin", d.fin_estimee ? d.fin_estimee + " (encore " + d.reste_texte + ")" : "après le premier lot de lignes");
    set("progression-refuses", String(d.refuses));
    box.setAttribute("data-traites", String(d.traites));
  }
  function finish(d) {
    var message = d.libelle + " : " + d.modifies + " ligne(s) modifiée(s)" +
      (d.refuses ? ", " + d.refuses + " refusée(s)" : "") + " sur " + d.total + ".";
    var live = document.getElementById("progression-annonce");
    var card = document.getElementById("resultat");
    if (live && card) { card.parentNode.insertBefore(live, card); }  // the live region stays in the page
    fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("resultat");
        if (fresh && card) {
          var dup = fresh.querySelector("#progression-annonce");
          if (dup) { dup.parentNode.removeChild(dup); }
          card.parentNode.replaceChild(document.importNode(fresh, true), card);
        }
        announce(message);
      })
      .catch(function () { update(d); announce(message); });
  }
  function tick() {
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
      .then(function (d) {
        failures = 0;
        update(d);
        if (d.termine) { finish(d); return; }
        announce(d.libelle + " : " + d.traites + " lignes traitées sur " + d.total + ".");
        window.setTimeout(tick, 2000);
      })
      .catch(function () {
        failures += 1;
        if (failures < 30) { window.setTimeout(tick, 5000); }
      });
  }
  window.setTimeout(tick, 1000);
}());
