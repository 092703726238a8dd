// sanbao desk: the only script. Pages work without it; it adds the journal's live
// rows (Server-Sent Events from /desk/journal/stream, the same stream as the API's).
//
// The journal's first page carries the hooks: <table id="journal-live"> with
// data-from (the head the page was read at, + 1: no gap, no repeat), data-county and
// data-kind (the page's filter), data-kind-names (each kind's name in the reader's
// language), data-date-fields (each kind's effective-date member) and
// data-county-names; <p id="live-status"> with the words of each state. A new
// record is added at the top with the cells the server writes (journal.rs `row`).
"use strict";
(function () {
  var table = document.getElementById("journal-live");
  if (!table || !window.EventSource) return;
  var body = table.tBodies[0];
  var county = table.getAttribute("data-county") || "";
  var kind = table.getAttribute("data-kind") || "";
  var from = table.getAttribute("data-from");
  function map(name) {
    try { return JSON.parse(table.getAttribute(name) || "{}") || {}; } catch (e) { return {}; }
  }
  var kindNames = map("data-kind-names");
  var dateFields = map("data-date-fields");
  var countyNames = map("data-county-names");
  var status = document.getElementById("live-status");
  var MAX_ROWS = 500;
  function say(state) {
    if (!status) return;
    status.setAttribute("data-state", state);
    var w = status.getAttribute("data-word-" + state);
    if (w) status.textContent = w;
  }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  // 1234567.80 -> 1,234,567.80 (as Money::grouped writes it).
  function grouped(plain) {
    var sign = "", s = String(plain);
    if (s.charAt(0) === "-") { sign = "-"; s = s.slice(1); }
    var dot = s.indexOf(".");
    var int = dot < 0 ? s : s.slice(0, dot);
    var frac = dot < 0 ? "" : s.slice(dot);
    var out = "";
    for (var i = 0; i < int.length; i++) {
      if (i > 0 && (int.length - i) % 3 === 0) out += ",";
      out += int.charAt(i);
    }
    return sign + out + frac;
  }
  function row(r) {
    var ev = r.event || {};
    var k = ev.kind || "";
    var tr = el("tr", null, "live");
    tr.setAttribute("data-seq", r.seq);
    tr.setAttribute("data-kind", k);
    tr.appendChild(el("td", String(r.seq), "n"));
    var tk = el("td", null, "t");
    var name = el("span", kindNames[k] || k, "kind");
    name.title = k;
    tk.appendChild(name);
    tk.appendChild(document.createTextNode(" "));
    tk.appendChild(el("small", k, "code"));
    tr.appendChild(tk);
    var tc = el("td", null, "t");
    if (typeof ev.county === "string") {
      tr.setAttribute("data-county", ev.county);
      if (k === "county_registered" && typeof ev.name === "string") countyNames[ev.county] = ev.name;
      tc.appendChild(el("span", ev.county, "cid"));
      if (countyNames[ev.county]) tc.appendChild(document.createTextNode(" " + countyNames[ev.county]));
    }
    tr.appendChild(tc);
    var amount = typeof ev.amount === "string" ? ev.amount : (typeof ev.balance === "string" ? ev.balance : null);
    var ta = el("td", amount === null ? "" : grouped(amount), "n");
    if (amount !== null) ta.setAttribute("data-amount", amount);
    tr.appendChild(ta);
    var df = dateFields[k];
    tr.appendChild(el("td", df && typeof ev[df] === "string" ? ev[df] : "", "t"));
    var th = el("td", r.hash || "", "t hash");
    th.setAttribute("data-hash", r.hash || "");
    tr.appendChild(th);
    return tr;
  }
  var last = Number(from) - 1;
  var src = new EventSource("/desk/journal/stream?from=" + encodeURIComponent(from));
  src.onopen = function () { say("open"); };
  src.onerror = function () { say(src.readyState === EventSource.CLOSED ? "closed" : "retrying"); };
  src.onmessage = function (m) {
    var r;
    try { r = JSON.parse(m.data); } catch (e) { return; }
    if (typeof r.seq !== "number" || r.seq <= last) return;
    last = r.seq;
    var ev = r.event || {};
    if (county && ev.county !== county) return;
    if (kind && ev.kind !== kind) return;
    body.insertBefore(row(r), body.firstChild);
    while (body.rows.length > MAX_ROWS) body.deleteRow(body.rows.length - 1);
    var empty = document.getElementById("journal-empty");
    if (empty) empty.hidden = true;
  };
})();
