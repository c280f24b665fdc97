// Keep a "±" with its numbers in the book's tables: "11.97 ± 1.71" never breaks at the ±.
document.addEventListener("DOMContentLoaded", () => {
  for (const cell of document.querySelectorAll("article td, article th")) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.nodeValue.includes("±")) {
        node.nodeValue = node.nodeValue.replace(/\s*±\s*/g, "\u00a0±\u00a0");
      }
    }
  }
});
