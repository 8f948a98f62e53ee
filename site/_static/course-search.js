// Pagefind's search UI on search.html. The index (../pagefind/) has one part per language; Pagefind
// loads the one of this page's <html lang>, so each edition searches itself. Result URLs are
// site-absolute ("/en/..."): baseUrl makes them work where the site is served under a sub-path
// (a fork's GitHub Pages, https://OWNER.github.io/NAME/).
window.addEventListener("DOMContentLoaded", () => {
  const siteRoot = new URL("../", window.location.href).pathname;
  const ui = new PagefindUI({
    element: "#course-search",
    bundlePath: siteRoot + "pagefind/",
    baseUrl: siteRoot,
    showImages: false,
    showSubResults: true,
    resetStyles: false,
  });
  const query = new URLSearchParams(window.location.search).get("q");
  if (query) ui.triggerSearch(query);
});
