// cloudpcap report: hover values and series toggles. Reads the chart data
// from the JSON block; writes only textContent and attributes.
(function () {
  "use strict";
  var el = document.getElementById("chart-data");
  if (!el) return;
  var data = JSON.parse(el.textContent);
  var tip = document.getElementById("tip");
  function hidden(svg, i) {
    var b = document.querySelector('button.lg[data-chart="' + svg.id + '"][data-series="' + i + '"]');
    return b !== null && b.classList.contains("off");
  }
  Array.prototype.forEach.call(document.querySelectorAll("svg[data-chart]"), function (svg) {
    var hs = data[svg.id];
    if (!hs) return;
    var dot = svg.querySelector("circle.dot");
    svg.addEventListener("mousemove", function (ev) {
      var m = svg.getScreenCTM();
      if (!m) return;
      var pt = svg.createSVGPoint();
      pt.x = ev.clientX;
      pt.y = ev.clientY;
      var p = pt.matrixTransform(m.inverse());
      var best = null, bd = Infinity;
      hs.forEach(function (s) {
        if (hidden(svg, s.i) || !s.p) return;
        s.p.forEach(function (q) {
          var dx = q[0] - p.x, dy = q[1] - p.y, d = dx * dx + 0.25 * dy * dy;
          if (d < bd) { bd = d; best = [s, q]; }
        });
      });
      if (best === null || bd > 1600) {
        tip.hidden = true;
        if (dot) dot.setAttribute("visibility", "hidden");
        return;
      }
      tip.textContent = best[0].name + ": " + best[1][2];
      tip.style.left = ev.pageX + 14 + "px";
      tip.style.top = ev.pageY + 14 + "px";
      tip.hidden = false;
      if (dot) {
        dot.setAttribute("cx", best[1][0]);
        dot.setAttribute("cy", best[1][1]);
        dot.setAttribute("visibility", "visible");
      }
    });
    svg.addEventListener("mouseleave", function () {
      tip.hidden = true;
      if (dot) dot.setAttribute("visibility", "hidden");
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll("button.lg"), function (b) {
    b.addEventListener("click", function () {
      var off = b.classList.toggle("off");
      b.setAttribute("aria-pressed", off ? "false" : "true");
      var svg = document.getElementById(b.getAttribute("data-chart"));
      if (!svg) return;
      Array.prototype.forEach.call(svg.querySelectorAll('g.s[data-series="' + b.getAttribute("data-series") + '"]'), function (g) {
        g.style.display = off ? "none" : "";
      });
    });
  });
  document.body.setAttribute("data-ready", "1");
})();
