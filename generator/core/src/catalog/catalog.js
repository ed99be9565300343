// Search over the stage's topics, projects and accounts: the index is the JSON block
// #catalog-index on the stage page; results are built with textContent only.
"use strict";
(function () {
  const input = document.getElementById("search");
  const data = document.getElementById("catalog-index");
  const list = document.getElementById("results");
  const status = document.getElementById("search-status");
  if (!input || !data || !list || !status) {
    return;
  }
  const entries = JSON.parse(data.textContent);

  function show(query) {
    const words = query.toLowerCase().split(/\s+/).filter(Boolean);
    list.replaceChildren();
    if (words.length === 0) {
      status.textContent = "";
      return;
    }
    const hits = entries.filter(function (e) {
      const text = (e.k + " " + e.n + " " + e.d + " " + e.t).toLowerCase();
      return words.every(function (w) { return text.includes(w); });
    });
    for (const e of hits.slice(0, 100)) {
      const item = document.createElement("li");
      const kind = document.createElement("span");
      kind.className = "kind " + e.k;
      kind.textContent = e.k;
      const link = document.createElement("a");
      link.className = "hit";
      link.href = e.u;
      link.textContent = e.n;
      const desc = document.createElement("span");
      desc.className = "muted";
      desc.textContent = e.d ? " " + e.d : "";
      item.append(kind, link, desc);
      list.append(item);
    }
    status.textContent = hits.length === 1 ? "1 match" : hits.length + " matches";
  }

  input.addEventListener("input", function () { show(input.value); });
  const q = new URLSearchParams(window.location.search).get("q");
  if (q) {
    input.value = q;
  }
  show(input.value);
})();
