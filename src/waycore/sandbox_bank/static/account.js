// Account history: "Next", "Previous" and the date filter load rows by XHR (JSON) and
// render them into the table (classic layout) or the activity list (redesigned layout).
(function () {
  "use strict";
  var root = document.querySelector("[data-history-url]");
  if (!root) { return; }
  var url = root.getAttribute("data-history-url");
  var layout = root.getAttribute("data-layout") || "classic";
  var state = { page: Number(root.getAttribute("data-page") || "1"), from: "", to: "" };
  var next = document.getElementById("next-page");
  var prev = document.getElementById("prev-page");
  var status = document.getElementById("page-status");
  var errorBox = document.getElementById("history-error");
  var filter = document.getElementById("date-filter") || document.getElementById("range");
  var busy = false;

  function cell(tag, cls, text) {
    var el = document.createElement(tag);
    el.className = cls;
    el.textContent = text == null ? "" : text;
    return el;
  }

  function renderClassic(rows) {
    var body = document.querySelector("table#transactions tbody");
    var fresh = document.createElement("tbody");
    rows.forEach(function (r) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-txn-id", r.id);
      tr.setAttribute("data-status", r.status);
      tr.className = "txn " + r.status;
      tr.appendChild(cell("td", "txn-date", r.transactionDate));
      tr.appendChild(cell("td", "posted-date", r.postedDate || ""));
      tr.appendChild(cell("td", "description", r.description));
      tr.appendChild(cell("td", "amount" + (r.amount.charAt(0) === "-" ? " negative" : ""), r.amountText));
      tr.appendChild(cell("td", "running-balance", r.runningBalanceText || ""));
      tr.appendChild(cell("td", "bank-reference", r.bankReference || ""));
      fresh.appendChild(tr);
    });
    if (!rows.length) {
      var tr = document.createElement("tr");
      tr.className = "empty";
      var td = cell("td", "empty", "No transactions in this period.");
      td.colSpan = 6;
      tr.appendChild(td);
      fresh.appendChild(tr);
    }
    body.parentNode.replaceChild(fresh, body);
  }

  function renderV2(rows) {
    var list = document.querySelector("ul.activity");
    while (list.firstChild) { list.removeChild(list.firstChild); }
    rows.forEach(function (r) {
      var li = document.createElement("li");
      li.setAttribute("data-ref-id", r.id);
      li.className = "activity-item " + r.status;
      var when = cell("span", "when", r.transactionDate + (r.postedDate ? " / " + r.postedDate : " / pending"));
      var what = cell("span", "what", r.description);
      if (r.bankReference) { what.appendChild(cell("small", "ref", " Ref " + r.bankReference)); }
      li.appendChild(when);
      li.appendChild(what);
      li.appendChild(cell("span", "value", r.amountText));
      li.appendChild(cell("span", "after", r.runningBalanceText || ""));
      list.appendChild(li);
    });
  }

  function load(page) {
    if (busy) { return; }
    busy = true;
    var q = new URLSearchParams({ page: String(page) });
    if (state.from) { q.set("from", state.from); }
    if (state.to) { q.set("to", state.to); }
    root.setAttribute("data-loading", "true");
    fetch(url + "?" + q.toString(), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (resp) {
        if (resp.status === 401) {
          return resp.json().then(function (body) {
            window.location.assign(body.login || "/login?expired=1");
            return null;
          });
        }
        if (!resp.ok) { throw new Error("The bank could not load this page (" + resp.status + ")."); }
        return resp.json();
      })
      .then(function (data) {
        if (!data) { return; }
        errorBox.hidden = true;
        state.page = data.page;
        (layout === "v2" ? renderV2 : renderClassic)(data.rows);
        next.disabled = !data.hasNext;
        prev.disabled = !data.hasPrev;
        root.setAttribute("data-page", String(data.page));
        root.setAttribute("data-has-next", data.hasNext ? "true" : "false");
        status.textContent = data.rows.length
          ? "Page " + data.page + " · rows " + data.first + "–" + data.last
          : "No transactions";
      })
      .catch(function (err) {
        errorBox.textContent = err.message;
        errorBox.hidden = false;
      })
      .finally(function () {
        busy = false;
        root.setAttribute("data-loading", "false");
      });
  }

  next.addEventListener("click", function () { load(state.page + 1); });
  prev.addEventListener("click", function () { if (state.page > 1) { load(state.page - 1); } });
  if (filter) {
    filter.addEventListener("submit", function (ev) {
      ev.preventDefault();
      state.from = filter.elements.namedItem("from").value;
      state.to = filter.elements.namedItem("to").value;
      load(1);
    });
  }
})();
