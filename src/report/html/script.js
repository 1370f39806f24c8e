// Filters for the review report: the page is complete without this script;
// it only shows the filter bar and hides findings the reader filters out.
(function () {
  "use strict";
  var form = document.getElementById("filters");
  if (!form) { return; }
  form.hidden = false;
  var boxes = form.querySelectorAll("input[type=checkbox]");
  function checked(kind) {
    var on = {};
    for (var i = 0; i < boxes.length; i++) {
      if (boxes[i].getAttribute("data-filter") === kind && boxes[i].checked) {
        on[boxes[i].value] = true;
      }
    }
    return on;
  }
  function apply() {
    var sev = checked("severity");
    var who = checked("reviewer");
    var all = document.querySelectorAll(".finding[data-severity]");
    var shown = 0;
    for (var i = 0; i < all.length; i++) {
      var f = all[i];
      var names = f.querySelectorAll("[data-reviewer]");
      var anyone = names.length === 0;
      for (var j = 0; j < names.length; j++) {
        if (who[names[j].getAttribute("data-reviewer")]) { anyone = true; }
      }
      var visible = !!sev[f.getAttribute("data-severity")] && anyone;
      f.classList.toggle("hidden-by-filter", !visible);
      var row = f.closest("tr.finding-row");
      if (row) {
        var rest = row.querySelectorAll(".finding:not(.hidden-by-filter)");
        row.classList.toggle("hidden-by-filter", rest.length === 0);
      }
      if (visible) { shown++; }
    }
    var out = document.getElementById("filter-count");
    if (out) { out.textContent = shown + " of " + all.length + " findings shown"; }
  }
  for (var i = 0; i < boxes.length; i++) { boxes[i].addEventListener("change", apply); }
  function openAll(open) {
    var d = document.querySelectorAll("#diff details.file");
    for (var i = 0; i < d.length; i++) { d[i].open = open; }
  }
  var expand = document.getElementById("expand-all");
  var collapse = document.getElementById("collapse-all");
  if (expand) { expand.addEventListener("click", function () { openAll(true); }); }
  if (collapse) { collapse.addEventListener("click", function () { openAll(false); }); }
  apply();
})();
