// Starts the web app. A file rather than an inline script: the content security policy allows
// scripts from this origin only (script-src 'self' 'wasm-unsafe-eval').
import init from "/atlas-web.js";

// The lazily loaded bundles (ADR 0027), by name (`atlas-web-more`, `atlas-web-promote`): each
// loaded once, the first time one of its pages opens; the main bundle mounts it into its page's
// placeholder and destroys it when the operator leaves.
const bundles = new Map();
const load = (name) => {
  if (!bundles.has(name)) {
    bundles.set(
      name,
      import(`/${name}.js`).then(async (m) => {
        await m.default();
        return m;
      }),
    );
  }
  return bundles.get(name);
};
window.atlasMoreMount = (root, name) => {
  load(name).then((m) => {
    // Left before the bundle arrived: nothing to show.
    if (root.isConnected) m.mount(root);
  });
};
window.atlasMoreUnmount = (name) => {
  if (bundles.has(name)) bundles.get(name).then((m) => m.unmount());
};

init();
