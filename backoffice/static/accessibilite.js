/* Accessibility (issue 19 §4): what Flask-Admin's widgets leave unnamed gets the name of its field.
   - select2 3.x draws an <a class="select2-choice"> (out of the tab order) with no text while empty;
   - the filters' rows add an operator <select> and a value <input> with no label.
   Run after Flask-Admin's own scripts, and again when a filter row is added. */
(function () {
  function nommer(racine) {
    racine.querySelectorAll('.select2-container a.select2-choice:not([aria-labelledby])').forEach(function (a) {
      /* named by its field's label then the value shown (the visible text stays part of the name) */
      var conteneur = a.closest('.select2-container');
      var id = conteneur && conteneur.id ? conteneur.id.replace(/^s2id_/, '') : '';
      var label = id ? document.querySelector('label[for="' + id + '"]') : null;
      var choisi = a.querySelector('.select2-chosen');
      if (label && !label.id) { label.id = 'etiquette-' + id; }
      if (choisi && !choisi.id) { choisi.id = 'choix-' + id; }
      var ids = [label ? label.id : '', choisi ? choisi.id : ''].filter(Boolean).join(' ');
      if (ids) { a.setAttribute('aria-labelledby', ids); } else { a.setAttribute('aria-label', 'Choisir une valeur'); }
    });
    racine.querySelectorAll('table.filters tr').forEach(function (tr) {
      var nom = tr.querySelector('a.remove-filter, td:first-child');
      var texte = nom ? nom.textContent.replace(/\s+/g, ' ').trim() : 'Filtre';
      tr.querySelectorAll('select:not([aria-label]), input:not([type=hidden]):not([aria-label])').forEach(function (c) {
        if (!c.labels || !c.labels.length) {
          c.setAttribute('aria-label', (c.tagName === 'SELECT' && c.classList.contains('filter-op') ? 'Opérateur du filtre ' : 'Valeur du filtre ') + texte);
        }
      });
    });
  }
  window.addEventListener('load', function () {
    nommer(document);
    new MutationObserver(function () { nommer(document); }).observe(document.body, {childList: true, subtree: true});
  });
})();
