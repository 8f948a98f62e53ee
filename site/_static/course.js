// The language switch keeps the reader's place: the same section (#anchor; both editions share the
// notebooks' section ids) and, on the search page, the same query (?q=).
document.addEventListener("DOMContentLoaded", () => {
  for (const link of document.querySelectorAll("a[data-course-switch]")) {
    link.addEventListener("click", () => {
      const target = new URL(link.getAttribute("href"), window.location.href);
      target.search = window.location.search;
      target.hash = window.location.hash;
      link.href = target.href;
    });
  }
});
