/* "Near me" for the search form: asks the browser for the user's position and searches near it
   (the `near` parameter, rounded to about 100 m). Progressive enhancement: without this script
   (or without geolocation) the form simply has no such button; nothing is sent anywhere else. */
(function () {
  "use strict";
  var box = document.querySelector(".place-row .near");
  var near = document.getElementById("near");
  if (!box || !near || !navigator.geolocation) { return; }
  var form = near.form;
  var button = document.createElement("button");
  button.type = "button";
  button.className = "near-me";
  button.textContent = box.dataset.nearLabel || "Near me";
  var status = document.createElement("span");
  status.setAttribute("role", "status");
  box.insertBefore(button, box.firstChild);
  box.appendChild(status);
  button.addEventListener("click", function () {
    button.disabled = true;
    navigator.geolocation.getCurrentPosition(function (position) {
      near.value = position.coords.latitude.toFixed(3) + "," + position.coords.longitude.toFixed(3);
      var sort = document.getElementById("sort");
      if (sort && !sort.querySelector('option[value="distance"]')) {
        var option = document.createElement("option");
        option.value = "distance";
        sort.appendChild(option);
      }
      if (sort) { sort.value = "distance"; }
      var place = document.getElementById("place");
      if (place) { place.disabled = true; }  // a sent `place` would decide `near` (web.places)
      form.submit();
    }, function () {
      button.disabled = false;
      status.textContent = box.dataset.nearError || "";
    }, {maximumAge: 600000, timeout: 10000});
  });
})();
