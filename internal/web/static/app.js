// Live mode of the audit log: new rows from the server's event stream go
// on top of the table. Rows arrive rendered (and escaped) by the server.
"use strict";
(function () {
  var rows = document.getElementById("rows");
  if (!rows || !rows.dataset.live || !window.EventSource) {
    return;
  }
  var source = new EventSource(rows.dataset.live);
  source.onmessage = function (msg) {
    rows.insertAdjacentHTML("afterbegin", msg.data);
    while (rows.children.length > 500) {
      rows.removeChild(rows.lastElementChild);
    }
  };
  window.addEventListener("pagehide", function () { source.close(); });
})();
