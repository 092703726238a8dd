// sanbao desk: the only script. Pages work without it; it adds the journal's live
// rows (Server-Sent Events from /desk/journal/stream, the same stream as the API's).
"use strict";
(function () {
  var table = document.getElementById("journal-live");
  if (!table || !window.EventSource) return;
  var body = table.tBodies[0];
  var county = table.getAttribute("data-county") || "";
  var kind = table.getAttribute("data-kind") || "";
  var from = table.getAttribute("data-from");
  var status = document.getElementById("live-status");
  var src = new EventSource("/desk/journal/stream?from=" + encodeURIComponent(from));
  function cell(tr, text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }
  src.onopen = function () { if (status) status.setAttribute("data-state", "open"); };
  src.onerror = function () { if (status) status.setAttribute("data-state", "retrying"); };
  src.onmessage = function (m) {
    var r;
    try { r = JSON.parse(m.data); } catch (e) { return; }
    var ev = r.event || {};
    if (county && ev.county !== county) return;
    if (kind && ev.kind !== kind) return;
    var tr = document.createElement("tr");
    tr.className = "live";
    tr.setAttribute("data-seq", r.seq);
    cell(tr, String(r.seq), "n");
    cell(tr, ev.kind || "", "t");
    cell(tr, ev.county || "", "t");
    cell(tr, ev.amount || ev.balance || "", "n");
    cell(tr, JSON.stringify(ev), "t dim");
    cell(tr, r.hash || "", "t hash");
    body.insertBefore(tr, body.firstChild);
    var empty = document.getElementById("journal-empty");
    if (empty) empty.hidden = true;
  };
})();
