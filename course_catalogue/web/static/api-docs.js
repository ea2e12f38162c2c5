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
    onComplete: function () {
      box.removeAttribute("aria-busy");
      // Swagger UI labels its server list with a plain span: name the select for screen readers
      var servers = document.getElementById("servers");
      if (servers && !servers.getAttribute("aria-label")) {
        servers.setAttribute("aria-label", box.dataset.serversLabel || "Server");
      }
    }
  });
}());
