// The panel's only script: when the controller's state changes, fetch the state part again and swap it in.
"use strict";
(function () {
  var live = document.getElementById("live");
  if (!live || !window.EventSource) { return; }
  var source = new EventSource(live.dataset.live);
  source.addEventListener("state", function () {
    fetch(live.dataset.fragment, { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      return r.text();
    }).then(function (html) { live.innerHTML = html; });
  });
})();
