// Starts the web app. A file rather than an inline script: the content security policy allows
// scripts from this origin only (script-src 'self' 'wasm-unsafe-eval').
import init from "/atlas-web.js";

// The second bundle (ADR 0027): loaded once, the first time one of its pages opens; the main
// bundle mounts it into its page's placeholder and destroys it when the operator leaves.
let more;
const loadMore = () =>
  (more ??= import("/atlas-web-more.js").then(async (m) => {
    await m.default();
    return m;
  }));
window.atlasMoreMount = (root) => {
  loadMore().then((m) => {
    // Left before the bundle arrived: nothing to show.
    if (root.isConnected) m.mount(root);
  });
};
window.atlasMoreUnmount = () => {
  if (more) more.then((m) => m.unmount());
};

init();
