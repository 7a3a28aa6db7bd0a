// The live warnings queue: on each change the server announces, fetch the table again and swap it in.
// No other script runs on the console; no action is ever taken here without a person submitting a form.
"use strict";
(function () {
  var state = document.getElementById("live-state");
  if (!state || !window.EventSource) { return; }
  var target = document.getElementById("warnings");
  var typing = function () { return target.contains(document.activeElement) && document.activeElement.value; };
  var refresh = function () {
    if (typing()) { setTimeout(refresh, 1000); return; }  // never wipe a note being typed
    fetch(state.dataset.fragment, { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if (r.status === 401) { window.location = "/login?next=" + encodeURIComponent(location.pathname); return; }
      return r.text().then(function (html) { target.innerHTML = html; target.dataset.updated = Date.now(); });
    });
  };
  var source = new EventSource(state.dataset.live);
  source.addEventListener("warnings", function () {  // the first one too: a change may have come in since
    state.classList.remove("lost");                      // the page was rendered
    refresh();
  });
  source.addEventListener("logout", function () { window.location = "/login"; });
  source.onerror = function () { state.classList.add("lost"); };
})();
