/* Maps of course places (Leaflet, bundled under static/vendor/leaflet: no CDN).
   Progressive enhancement: each map container is `hidden` in the HTML and shown only when this
   script and Leaflet run; the pages list the same places as text. Points come from the page:
   the result cards (`.result[data-lat][data-lon]`, with data-title and data-url) for the
   results map, `[data-place-lat]` items for a course's map. Tiles come from data-tiles (a
   {z}/{x}/{y} template, the MAP_TILES_URL setting); without it, or when the tile server is
   unreachable, the markers are still drawn on a plain background. */
(function () {
  "use strict";
  if (!window.L) { return; }

  function points(selector, latKey, lonKey) {
    var found = [];
    Array.prototype.forEach.call(document.querySelectorAll(selector), function (el) {
      var lat = parseFloat(el.dataset[latKey]), lon = parseFloat(el.dataset[lonKey]);
      if (isFinite(lat) && isFinite(lon)) {
        found.push({lat: lat, lon: lon, title: el.dataset.title || el.textContent.trim(), url: el.dataset.url || ""});
      }
    });
    return found;
  }

  function draw(container, places) {
    if (!container || !places.length) { return; }
    container.hidden = false;
    var map = L.map(container, {scrollWheelZoom: false});
    if (container.dataset.tiles) {
      L.tileLayer(container.dataset.tiles, {maxZoom: 18, attribution: container.dataset.attribution || ""}).addTo(map);
    }
    var bounds = [];
    places.forEach(function (p) {
      var marker = L.circleMarker([p.lat, p.lon], {radius: 7, weight: 2, color: "#0b4f9c", fillOpacity: 0.7}).addTo(map);
      var popup = document.createElement(p.url ? "a" : "span");
      popup.textContent = p.title;
      if (p.url) { popup.href = p.url; }
      marker.bindPopup(popup);
      bounds.push([p.lat, p.lon]);
    });
    var center = (container.dataset.center || "").split(",").map(parseFloat);
    if (center.length === 2 && isFinite(center[0]) && isFinite(center[1])) {
      var metres = 1000 * (parseFloat(container.dataset.radiusKm) || 50);
      map.fitBounds(L.latLng(center[0], center[1]).toBounds(2 * metres));  // the view first: a circle needs one
      L.circle(center, {radius: metres, weight: 1, fill: false, color: "#555"}).addTo(map);
    } else if (bounds.length === 1) {
      map.setView(bounds[0], 11);
    } else {
      map.fitBounds(bounds, {padding: [20, 20], maxZoom: 12});
    }
  }

  function drawAll() {
    draw(document.getElementById("results-map"), points(".result[data-lat]", "lat", "lon"));
    draw(document.getElementById("course-map"), points("[data-place-lat]", "placeLat", "placeLon"));
  }
  window.catalogueMaps = drawAll;  // facets.js redraws after swapping the results in place
  drawAll();
}());
