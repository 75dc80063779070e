// The language switch in the menu bar: English at the site's root, 简体中文 under zh-CN/, the
// same page in the other language. mdBook gives every page `path_to_root` (the way back to the
// root of the book it belongs to) and sets <html lang> from book.language, which is all it takes.
(function () {
    "use strict";
    const buttons = document.querySelector("#mdbook-menu-bar .right-buttons, .right-buttons");
    if (!buttons || typeof path_to_root === "undefined") {
        return;
    }
    const chinese = document.documentElement.lang === "zh-CN";
    const bookRoot = new URL(path_to_root, window.location.href);
    const page = window.location.href.slice(bookRoot.href.length) || "index.html";
    const otherRoot = chinese ? new URL("../", bookRoot) : new URL("zh-CN/", bookRoot);
    const link = document.createElement("a");
    link.id = "language-switch";
    link.href = new URL(page, otherRoot).href;
    link.textContent = chinese ? "English" : "简体中文";
    link.title = chinese ? "Read this page in English" : "阅读本页的简体中文版";
    link.setAttribute("lang", chinese ? "en" : "zh-CN");
    link.setAttribute("hreflang", chinese ? "en" : "zh-CN");
    buttons.prepend(link);
})();

// Search in Chinese. mdBook's index keeps only tokens of ASCII letters and digits at their
// ends (elasticlunr's trimmer), so a word such as 信号量, with no spaces around it, is not in
// it, and the browser's trimmer strips it from the query too. For a query with Chinese in it,
// the search counts where each of its words occurs in the text the index stores for every
// section (title twice as much), as elasticlunr's "OR" would, and returns the same shape of
// results, so mdBook's page shows them, teasers and all.
(function () {
    "use strict";
    if (typeof elasticlunr === "undefined") {
        return;
    }
    const han = /[\u3400-\u9fff\uf900-\ufaff]/;
    const search = elasticlunr.Index.prototype.search;
    elasticlunr.Index.prototype.search = function (query, config) {
        if (!han.test(query)) {
            return search.call(this, query, config);
        }
        const words = query.toLowerCase().split(/\s+/).filter((word) => word !== "");
        const occurrences = (text, word) => (text || "").toLowerCase().split(word).length - 1;
        const hits = [];
        for (const [ref, doc] of Object.entries(this.documentStore.docs)) {
            let score = 0;
            for (const word of words) {
                score += 2 * occurrences(doc.title, word) + occurrences(doc.body, word)
                    + occurrences(doc.breadcrumbs, word);
            }
            if (score > 0) {
                hits.push({ ref: ref, score: score, doc: doc });
            }
        }
        return hits.sort((a, b) => b.score - a.score);
    };
})();
