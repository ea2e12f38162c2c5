/* The interactive API documentation: replaces the server-rendered list of operations with
   Swagger UI (bundled, same origin) reading the OpenAPI document. Without this script, or if the
   viewer failed to load, the list stays. */
(function () {
  "use strict";
  var box = document.getElementById("swagger-ui");
  if (!box || typeof window.SwaggerUIBundle !== "function") { return; }
  var url = box.dataset.specUrl;
  box.setAttribute("aria-busy", "true");
  box.textContent = box.dataset.loading || "";
  window.SwaggerUIBundle({
    url: url,
    domNode: box,
    deepLinking: true,
    tryItOutEnabled: false,
    syntaxHighlight: { activated: false },  // its colour theme fails contrast on the dark ground
    onComplete: function () {
      box.removeAttribute("aria-busy");
      // Repairs of Swagger UI's markup (axe findings), repeated by an observer because Swagger UI
      // re-renders on every toggle:
      // * each operation's summary is a button holding a deep link to the operation, a control
      //   inside a control (nested-interactive; a negative tabindex does not hide it from
      //   assistive technologies): the button opens the operation and, with deepLinking, puts
      //   its address in the location bar, so the inner link loses its href (then plain text);
      // * example values scroll sideways in a <pre> the keyboard cannot reach: made focusable;
      // * a parameter's value list (select) has no name: named after its parameter.
      var repair = function () {
        box.querySelectorAll(".opblock-summary-control a[href]").forEach(function (link) {
          link.removeAttribute("href");
        });
        box.querySelectorAll(".highlight-code pre:not([tabindex])").forEach(function (pre) {
          pre.setAttribute("tabindex", "0");
        });
        box.querySelectorAll("tr[data-param-name] select:not([aria-label])").forEach(function (select) {
          select.setAttribute("aria-label", select.closest("tr").getAttribute("data-param-name"));
        });
      };
      repair();
      new MutationObserver(repair).observe(box, {
        childList: true, subtree: true, attributes: true, attributeFilter: ["href"]
      });
      // Swagger UI labels its server list with a plain span: name the select for screen readers
      var servers = document.getElementById("servers");
      if (servers && !servers.getAttribute("aria-label")) {
        servers.setAttribute("aria-label", box.dataset.serversLabel || "Server");
      }
    }
  });
}());
