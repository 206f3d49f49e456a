// Runs before the app: apply the saved (or system) theme so a dark-mode user never sees a
// white flash. The app's prefs store takes over once loaded.
(function () {
  try {
    var saved = localStorage.getItem('oblivious.theme');
    var dark = saved ? saved === 'dark' : window.matchMedia('(prefers-color-scheme: dark)').matches;
    document.documentElement.dataset.theme = dark ? 'dark' : 'light';
    document.documentElement.style.colorScheme = dark ? 'dark' : 'light';
  } catch (e) {
    /* storage blocked: the app decides */
  }
})();
