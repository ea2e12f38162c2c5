/* Autocomplete for the search and place boxes: the WAI-ARIA 1.2 combobox pattern (list
   autocomplete). Progressive enhancement: without this script each box is a plain field.
   Every input with data-suggest-url gets one: GET <url>?q=... answers {suggestions: [{text,
   kind, url, value}]}; keys: Up/Down move, Enter chooses, Escape closes. Choosing opens the
   suggestion's url, or, for an input with data-suggest-fill (the place box), writes the text
   into the box and the value into the form field of that name, then submits the form. */
(function () {
  "use strict";
  if (!window.fetch) { return; }
  Array.prototype.forEach.call(document.querySelectorAll("input[data-suggest-url]"), setup);

function setup(input) {
  var prefix = input.id;
  var list = document.createElement("ul");
  list.id = prefix + "-suggestions";
  list.className = "suggestions";
  list.setAttribute("role", "listbox");
  list.setAttribute("aria-label", input.labels && input.labels[0] ? input.labels[0].textContent : "Suggestions");
  list.hidden = true;
  input.parentNode.appendChild(list);

  var hint = document.createElement("p");
  hint.id = prefix + "-hint";
  hint.className = "visually-hidden";
  hint.textContent = input.dataset.suggestHint || "";
  input.parentNode.appendChild(hint);

  var status = document.createElement("p");
  status.className = "visually-hidden";
  status.setAttribute("role", "status");
  input.parentNode.appendChild(status);

  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-expanded", "false");
  input.setAttribute("aria-controls", list.id);
  input.setAttribute("aria-describedby", hint.id);

  var items = [], active = -1, timer = null, latest = 0;

  function close() {
    list.hidden = true;
    list.innerHTML = "";
    items = [];
    active = -1;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function highlight(index) {
    items.forEach(function (li, i) { li.setAttribute("aria-selected", i === index ? "true" : "false"); });
    active = index;
    if (index >= 0) {
      input.setAttribute("aria-activedescendant", items[index].id);
      items[index].scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  var shown = [];

  function choose(s) {
    var fill = input.dataset.suggestFill;
    if (!fill) { window.location.assign(s.url); return; }
    input.value = s.text;
    var field = input.form.elements[fill];
    if (field) { field.value = s.value; }
    close();
    input.form.submit();
  }

  function render(suggestions) {
    close();
    shown = suggestions;
    suggestions.forEach(function (s, i) {
      var li = document.createElement("li");
      li.id = prefix + "-suggestion-" + i;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      li.dataset.index = String(i);
      var kind = document.createElement("span");
      kind.className = "kind";
      kind.textContent = input.dataset["kind" + s.kind.charAt(0).toUpperCase() + s.kind.slice(1)] || s.kind;
      var text = document.createElement("span");
      text.textContent = s.text;
      li.appendChild(text);
      li.appendChild(kind);
      li.addEventListener("mousedown", function (event) { event.preventDefault(); choose(s); });
      list.appendChild(li);
      items.push(li);
    });
    if (items.length) {
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }
    status.textContent = (input.dataset.suggestCount || "{n}").replace("{n}", String(items.length));
  }

  function fetchSuggestions() {
    var text = input.value.trim();
    if (text.length < 2) { close(); return; }
    var ticket = ++latest;
    var url = input.dataset.suggestUrl + "?q=" + encodeURIComponent(text) + "&lang=" + document.documentElement.lang;
    fetch(url, { headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { suggestions: [] }; })
      .then(function (body) { if (ticket === latest) { render(body.suggestions || []); } })
      .catch(close);
  }

  input.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(fetchSuggestions, 150);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "ArrowDown" && items.length) {
      event.preventDefault();
      highlight((active + 1) % items.length);
    } else if (event.key === "ArrowUp" && items.length) {
      event.preventDefault();
      highlight(active <= 0 ? items.length - 1 : active - 1);
    } else if (event.key === "Enter" && active >= 0) {
      event.preventDefault();
      choose(shown[active]);
    } else if (event.key === "Escape") {
      close();
    }
  });
  input.addEventListener("blur", function () { window.setTimeout(close, 100); });
}
}());
