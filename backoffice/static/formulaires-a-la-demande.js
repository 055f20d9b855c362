/* Issue 19 §5: a grid without an active filter does not load the filter machinery (select2, moment,
   daterangepicker, Flask-Admin's form.js and bs4_filters.js: about 70 KiB) until the filter menu is used.
   The URLs (hashed, cached a year) come from data attributes; scripts load in order, then a click made on a
   filter before they were ready is replayed. Same-origin files only: the CSP (script-src-elem 'self') holds. */
(function () {
  var moi = document.currentScript;
  var css = (moi.getAttribute('data-css') || '').split(' ').filter(Boolean);
  var js = (moi.getAttribute('data-js') || '').split(' ').filter(Boolean);
  var etat = 'attente', enAttente = null;

  function charger(i, fini) {
    if (i >= js.length) { fini(); return; }
    var s = document.createElement('script');
    s.src = js[i];
    s.async = false;
    s.onload = function () { charger(i + 1, fini); };
    s.onerror = function () { charger(i + 1, fini); };
    document.body.appendChild(s);
  }

  function demarrer() {
    if (etat !== 'attente') return;
    etat = 'chargement';
    css.forEach(function (href) {
      var l = document.createElement('link');
      l.rel = 'stylesheet';
      l.href = href;
      document.head.appendChild(l);
    });
    charger(0, function () {
      etat = 'pret';
      if (enAttente && window.jQuery) { window.jQuery(enAttente).trigger('click'); }
      enAttente = null;
    });
  }

  function declencheur(e) {
    var t = e.target && e.target.closest ? e.target.closest('a.filter, .dropdown-toggle, .filter-op, .filter-val') : null;
    if (!t || !(t.matches('a.filter') || (t.parentNode && t.parentNode.querySelector('a.filter')))) return;
    demarrer();
    if (e.type === 'click' && t.matches('a.filter') && etat !== 'pret') {
      e.preventDefault();
      e.stopImmediatePropagation();
      enAttente = t;
    }
  }

  ['pointerdown', 'focusin', 'click'].forEach(function (type) {
    document.addEventListener(type, declencheur, true);
  });
})();
