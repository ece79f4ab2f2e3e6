// wikiloom's gadget loader: mounts the labeling app in every element of class
// "wikiloom-labels" (or the one with id "wikilabels-home") of a wiki page.
// Add to a user's or the site's JavaScript: mw.loader.load("{{ server }}/gadget/loader.js");
(function () {
  var server = {{ server|tojson }};
  function start() {
    var roots = document.querySelectorAll(".wikiloom-labels, #wikilabels-home");
    if (!roots.length) return;
    var config = window.mw && mw.config ? mw.config : { get: function () { return null; } };
    ["vendor/codex.style-bidi.css", "ui/labeling.css"].forEach(function (path) {
      var link = document.createElement("link");
      link.rel = "stylesheet";
      link.href = server + "/static/" + path;
      document.head.appendChild(link);
    });
    import(server + "/static/ui/app.js").then(function (app) {
      roots.forEach(function (root) {
        var wiki = root.getAttribute("data-wiki") || config.get("wgDBname");
        var lang = root.getAttribute("data-lang") || config.get("wgUserLanguage") || "";
        var url = server + "/ui/" + encodeURIComponent(wiki) + "/app.json";
        if (lang) url += "?uselang=" + encodeURIComponent(lang);
        fetch(url, { credentials: "include" })
          .then(function (response) {
            if (!response.ok) throw new Error(response.status + " " + response.statusText);
            return response.json();
          })
          .then(function (settings) { root.wikiloom = app.mount(root, settings); })
          .catch(function (error) {
            root.textContent = "wikiloom could not start: " + error.message;
          });
      });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
