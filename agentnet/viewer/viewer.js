// agentnet viewer: opens a call's messages when its node is clicked; sorts and pages the index.
(function () {
  "use strict";
  function openCall(prefix, id) {
    var el = document.getElementById(prefix + "call-" + id);
    if (!el) return;
    document.querySelectorAll("details.picked").forEach(function (d) { d.classList.remove("picked"); });
    el.open = true;
    el.classList.add("picked");
    el.scrollIntoView({block: "center"});
  }
  document.querySelectorAll("svg .node[data-call]").forEach(function (node) {
    node.addEventListener("click", function () { openCall(node.getAttribute("data-prefix") || "", node.getAttribute("data-call")); });
  });

  var holder = document.getElementById("index-data");
  if (!holder) return;
  var data = JSON.parse(holder.textContent);
  var rows = data.rows, columns = data.columns, pageSize = data.page_size, page = 0;
  // failures first: errors, then wrong answers, then the rest, each by item order
  var order = rows.map(function (r, i) { return i; });
  order.sort(function (a, b) { return rank(rows[a]) - rank(rows[b]) || a - b; });
  function rank(r) { return r.failed ? 0 : (r.score < 1 ? 1 : 2); }
  var body = document.querySelector("#index tbody"), info = document.getElementById("page-info");

  function cell(row, col) {
    var v = row[col.key];
    if (v === null || v === undefined) return "—";
    if (col.fmt === "score") return v.toFixed(2);
    if (col.fmt === "int") return Math.round(v).toLocaleString("en");
    if (col.fmt === "s") return v.toFixed(1) + " s";
    return String(v);
  }
  function render() {
    var pages = Math.max(1, Math.ceil(order.length / pageSize));
    page = Math.min(page, pages - 1);
    body.textContent = "";
    order.slice(page * pageSize, (page + 1) * pageSize).forEach(function (i) {
      var r = rows[i], tr = document.createElement("tr");
      if (r.failed || r.score < 1) tr.className = "fail";
      columns.forEach(function (col) {
        var td = document.createElement("td");
        if (col.link && r[col.link]) {
          var a = document.createElement("a");
          a.href = r[col.link];
          a.textContent = cell(r, col);
          td.appendChild(a);
        } else {
          td.textContent = cell(r, col);
        }
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    info.textContent = "page " + (page + 1) + " of " + pages + " · " + order.length + " items";
  }
  document.querySelectorAll("#index th").forEach(function (th, c) {
    th.addEventListener("click", function () {
      var key = columns[c].key, desc = !th.classList.contains("sorted-desc");
      document.querySelectorAll("#index th").forEach(function (h) { h.classList.remove("sorted-asc", "sorted-desc"); });
      th.classList.add(desc ? "sorted-desc" : "sorted-asc");
      order.sort(function (a, b) {
        var x = rows[a][key], y = rows[b][key];
        if (x === y) return a - b;
        if (x === null || x === undefined) return 1;
        if (y === null || y === undefined) return -1;
        return (x < y ? -1 : 1) * (desc ? -1 : 1);
      });
      page = 0;
      render();
    });
  });
  document.getElementById("prev").addEventListener("click", function () { page = Math.max(0, page - 1); render(); });
  document.getElementById("next").addEventListener("click", function () { page += 1; render(); });
  render();
})();
