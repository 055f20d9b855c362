/* R63: the e-mail fields are typed twice, by hand: pasting (or dropping text) into them is refused, with a
   word saying why. The server compares the two entries anyway. */
(function () {
  document.querySelectorAll('[data-sans-coller]').forEach(function (champ) {
    ['paste', 'drop'].forEach(function (evenement) {
      champ.addEventListener(evenement, function (e) {
        e.preventDefault();
        var aide = document.getElementById(champ.id + '-sans-coller');
        if (aide) { aide.hidden = false; }
      });
    });
  });
})();
