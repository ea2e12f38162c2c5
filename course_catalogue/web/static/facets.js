/* Facets and results without full reloads (progressive enhancement: without this script every
   facet value is a plain link and every list is shown whole).
   * Long facet lists (more than LIMIT + 2 values) show their first LIMIT values and a "show all" button; lists of
     FILTER_FROM values or more get a filter box (matches anywhere in the label, accents and
     case ignored). Selected values always stay visible.
   * Following a facet value, an active-filter chip or a link of the empty state fetches that
     page and swaps its results and filters in place (history kept, Back works); any failure
     falls back to loading the page normally.
   * On phones the filters are a drawer opened by the "Filter results" button; choosing a value
     closes it and brings the results into view. */
(function () {
  "use strict";
  var LIMIT = 8, FILTER_FROM = 12;
  document.documentElement.classList.add("js");
  if (!document.querySelector(".layout .filters")) { return; }
  var phone = window.matchMedia ? window.matchMedia("(max-width: 49.99rem)") : { matches: false };

  function fold(text) {
    return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  function enhanceList(details, strings) {
    var list = details.querySelector("ul");
    if (!list) { return; }
    var items = Array.prototype.filter.call(list.children, function (li) { return li.tagName === "LI"; });
    if (items.length <= LIMIT + 2) { return; }  // hiding one or two values saves nothing
    var name = details.querySelector("h3").textContent.trim();
    var expanded = false;
    var button = document.createElement("button");
    button.type = "button";
    button.className = "facet-toggle";
    button.setAttribute("aria-controls", list.id || (list.id = "list-" + details.querySelector("h3").id));
    function apply() {
      items.forEach(function (li, i) {
        li.classList.toggle("facet-more-hidden", !expanded && i >= LIMIT && !li.querySelector(".selected"));
      });
      button.textContent = expanded ? strings.showFewer : strings.showMore.replace("{n}", String(items.length));
      button.setAttribute("aria-expanded", String(expanded));
    }
    button.addEventListener("click", function () { expanded = !expanded; apply(); });
    if (items.length >= FILTER_FROM) {
      var tools = document.createElement("div");
      tools.className = "facet-tools";
      var box = document.createElement("input");
      box.type = "search";
      box.setAttribute("aria-label", strings.filterLabel.replace("{facet}", name));
      box.placeholder = strings.filterPlaceholder;
      box.addEventListener("input", function () {
        var wanted = fold(box.value.trim());
        items.forEach(function (li) { li.hidden = wanted !== "" && fold(li.textContent).indexOf(wanted) < 0; });
        if (wanted && !expanded) { expanded = true; apply(); }
      });
      tools.appendChild(box);
      list.parentNode.insertBefore(tools, list);
    }
    list.parentNode.insertBefore(button, list.nextSibling);
    apply();
  }

  function enhance() {
    var filters = document.querySelector(".layout .filters");
    if (!filters) { return; }
    var d = filters.dataset;
    var strings = { showMore: d.showMore || "Show all {n}", showFewer: d.showFewer || "Show fewer",
                    filterLabel: d.filterLabel || "Filter {facet}", filterPlaceholder: d.filterPlaceholder || "" };
    Array.prototype.forEach.call(filters.querySelectorAll("details.facet"), function (details) {
      enhanceList(details, strings);
    });
    var close = document.createElement("button");
    close.type = "button";
    close.className = "filters-close";
    close.textContent = d.close || "Close";
    close.addEventListener("click", function () { drawer(false); });
    filters.insertBefore(close, filters.firstChild);
    var open = document.querySelector(".filters-button");
    if (open) {
      open.setAttribute("aria-expanded", "false");
      open.addEventListener("click", function (event) {
        if (!phone.matches) { return; }
        event.preventDefault();
        drawer(true);
      });
    }
  }

  function drawer(show) {
    var filters = document.querySelector(".layout .filters");
    var open = document.querySelector(".filters-button");
    if (!filters) { return; }
    filters.classList.toggle("open", show);
    if (open) { open.setAttribute("aria-expanded", String(show)); }
    if (show) {
      var heading = filters.querySelector("h2");
      heading.setAttribute("tabindex", "-1");
      heading.focus();
    } else if (open) {
      open.focus();
    }
  }

  function swap(url, push) {
    var results = document.querySelector(".layout .results");
    if (results) { results.setAttribute("aria-busy", "true"); }
    return fetch(url, { headers: { Accept: "text/html" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector(".layout"), old = document.querySelector(".layout");
        if (!fresh || !old) { throw new Error("no results in the page"); }
        var wasPhone = phone.matches;
        old.parentNode.replaceChild(document.importNode(fresh, true), old);
        var form = document.querySelector("form.search-form"), freshForm = doc.querySelector("form.search-form");
        if (form && freshForm) {  // the filters the next search keeps
          Array.prototype.forEach.call(form.querySelectorAll(".search-row input[type=hidden]"), function (i) { i.remove(); });
          var row = form.querySelector(".search-row"), before = form.querySelector("#sort");
          Array.prototype.forEach.call(freshForm.querySelectorAll(".search-row input[type=hidden]"), function (i) {
            row.insertBefore(document.importNode(i, true), before);
          });
        }
        document.title = doc.title;
        if (push) { window.history.pushState({ swapped: true }, "", url); }
        shown = withoutHash(window.location.href);
        enhance();
        if (window.catalogueMaps) { window.catalogueMaps(); }
        var heading = document.getElementById("results-title");
        if (heading) {
          heading.setAttribute("tabindex", "-1");
          heading.focus({ preventScroll: !wasPhone });
          if (wasPhone) { heading.scrollIntoView({ block: "start" }); }
        }
      })
      .catch(function () { window.location.assign(url); });
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest(".layout .filters a.facet-value, .layout .active-filters a, .layout .empty-state a") : null;
    if (!link || event.defaultPrevented || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) { return; }
    var target = new URL(link.href, window.location.href);
    if (target.origin !== window.location.origin || target.pathname !== window.location.pathname) { return; }
    event.preventDefault();
    swap(target.href, true);
  });
  document.addEventListener("keydown", function (event) {
    var filters = document.querySelector(".layout .filters.open");
    if (filters && event.key === "Escape") { drawer(false); }
  });
  // popstate also fires when only the fragment changes (the skip link, "go to the results"):
  // that is no new search, so it must neither refetch the page nor move the focus
  function withoutHash(href) { return href.split("#")[0]; }
  var shown = withoutHash(window.location.href);
  window.addEventListener("popstate", function () {
    var now = withoutHash(window.location.href);
    if (now === shown) { return; }
    shown = now;
    swap(window.location.href, false);
  });
  if (window.history.replaceState) { window.history.replaceState({ swapped: true }, "", window.location.href); }
  enhance();
}());
